"""Unit tests for _params: the data-path parameters of iscsi_target (tgt 1.0.85 output captured
from a real tgtd: a new target, and one after seven ``tgtadm --op update`` calls)."""

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError, RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.target import _params, _tgt, _tgt_conf, _tgt_show
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import Lun, TargetSpec, normalise
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import TgtState, TgtTarget

fixture = fixture_reader()
NAME = "iqn.2024-01.lab.sanboot:tuned"
TUNED = dict(MaxRecvDataSegmentLength=262144, MaxXmitDataSegmentLength=262144,
             FirstBurstLength=262144, MaxBurstLength=1048576, MaxOutstandingR2T=4,
             ImmediateData=False, InitialR2T=False)


def test_parse_defaults_of_a_new_target():
    assert _params.parse(fixture("tgt_show_target_params.txt")) == _params.TGT_DEFAULTS


def test_parse_after_updates():
    assert _params.parse(fixture("tgt_show_target_params_tuned.txt")) == TUNED


def test_parse_ignores_other_keys_and_the_target_list():
    assert _params.parse("HeaderDigest=None\nMaxQueueCmd=128\nTarget 1: iqn.x:y\n") == {}
    assert _params.parse(fixture("tgt_show_target.txt")) == {}


def test_normalise_keeps_set_keys_only():
    assert _params.normalise(None) == {}
    assert _params.normalise(dict(MaxRecvDataSegmentLength=65536, FirstBurstLength=None,
                                  ImmediateData="No", InitialR2T=True, MaxOutstandingR2T="8")) == \
        dict(MaxRecvDataSegmentLength=65536, ImmediateData=False, InitialR2T=True, MaxOutstandingR2T=8)


@pytest.mark.parametrize("params,words", [
    (dict(MaxRecvDataSegmentLength=511), ["parameters.MaxRecvDataSegmentLength", "512 to 16777215",
                                          "RFC 7143 section 13.12"]),
    (dict(MaxBurstLength=16777216), ["parameters.MaxBurstLength", "RFC 7143 section 13.13"]),
    (dict(FirstBurstLength=100), ["parameters.FirstBurstLength", "RFC 7143 section 13.14"]),
    (dict(MaxXmitDataSegmentLength=0), ["MaxXmitDataSegmentLength", "512 to 16777215"]),
    (dict(MaxOutstandingR2T=0), ["MaxOutstandingR2T", "1 to 65535", "section 13.17"]),
    (dict(MaxOutstandingR2T=65536), ["1 to 65535"]),
    (dict(MaxOutstandingR2T=True), ["not an integer"]),
    (dict(MaxRecvDataSegmentLength="8k"), ["not an integer"]),
    (dict(ImmediateData="maybe"), ["parameters.ImmediateData", "boolean", "section 13.11"]),
    (dict(InitialR2T=1), ["parameters.InitialR2T", "section 13.10"]),
    (dict(maxburstlength=65536), ["unknown parameter", "did you mean MaxBurstLength"]),
    (dict(HeaderDigest="CRC32C"), ["unknown parameter", "ImmediateData"]),
    (dict(FirstBurstLength=524288, MaxBurstLength=262144), ["exceeds MaxBurstLength",
                                                            "section 13.14"]),
    ("MaxBurstLength=1", ["not a dictionary"]),
])
def test_normalise_refuses(params, words):
    with pytest.raises(RequestError) as e:
        _params.normalise(params)
    for w in words:
        assert w in str(e.value)


def test_limits_accepted():
    low = dict((k, 1 if k == "MaxOutstandingR2T" else 512) for k in _params.KEYS[:5])
    high = dict((k, 65535 if k == "MaxOutstandingR2T" else 16777215) for k in _params.KEYS[:5])
    assert _params.normalise(low) == low and _params.normalise(high) == high


def test_spec_carries_parameters_and_names_the_item():
    specs, dummy = normalise(dict(targets=[dict(name=NAME, parameters=dict(MaxBurstLength=65536)),
                                           dict(name=NAME + "2", allow_all=True)]),
                             check_paths=False)
    assert specs[0].parameters == dict(MaxBurstLength=65536) and specs[1].parameters == {}
    with pytest.raises(RequestError, match=r"targets\[0\]\.parameters\.MaxBurstLength"):
        normalise(dict(targets=[dict(name=NAME, parameters=dict(MaxBurstLength=1))]),
                  check_paths=False)
    with pytest.raises(RequestError, match="provider tgt only"):
        normalise(dict(name=NAME, parameters=dict(ImmediateData=True)), "ietd", check_paths=False)


def test_plan_only_differing_keys_in_a_safe_order():
    cur = dict(_params.TGT_DEFAULTS)
    assert _params.plan({}, cur) == []
    assert _params.plan(dict(ImmediateData=True), cur) == []
    grow = _params.plan(dict(FirstBurstLength=524288, MaxBurstLength=1048576), cur)
    assert [s[0] for s in grow] == ["MaxBurstLength", "FirstBurstLength"]
    shrink = _params.plan(dict(FirstBurstLength=4096, MaxBurstLength=8192), cur)
    assert [s[0] for s in shrink] == ["FirstBurstLength", "MaxBurstLength"]
    assert _params.plan(dict(InitialR2T=False), None) == [("InitialR2T", None, False)]


def state_with(params):
    t = TgtTarget(1, NAME)
    t.params = params
    return TgtState([t])


def test_tgt_plan_updates_and_undo():
    spec = TargetSpec(NAME, allow_all=True, parameters=dict(MaxRecvDataSegmentLength=262144,
                                                            ImmediateData=False))
    st = state_with(dict(_params.TGT_DEFAULTS))
    st.targets[NAME].allow_all = True
    changes = _tgt.plan(st, [spec])
    assert [c.text for c in changes] == [
        "set MaxRecvDataSegmentLength of %s to 262144 (was 8192)" % NAME,
        "set ImmediateData of %s to No (was Yes)" % NAME]
    assert changes[1].args == ["--op", "update", "--mode", "target", "--tid", "1", "--name",
                               "ImmediateData", "--value", "No"]
    assert changes[1].undo == [["--op", "update", "--mode", "target", "--tid", "1", "--name",
                                "ImmediateData", "--value", "Yes"]]
    st.targets[NAME].params.update(spec.parameters)
    assert _tgt.plan(st, [spec]) == []          # idempotent: nothing to write


def test_tgt_plan_new_target_sets_every_given_key():
    spec = TargetSpec(NAME, allow_all=True, parameters=dict(InitialR2T=False, MaxOutstandingR2T=8))
    args = [c.args for c in _tgt.plan(TgtState(), [spec])]
    assert args[0][:4] == ["--op", "new", "--mode", "target"]
    assert [a[-3] for a in args[1:3]] == ["MaxOutstandingR2T", "InitialR2T"]


def test_tgt_plan_refuses_first_burst_over_current_max_burst():
    spec = TargetSpec(NAME, allow_all=True, parameters=dict(FirstBurstLength=524288))
    with pytest.raises(PlanError, match="current MaxBurstLength.*13.14"):
        _tgt.plan(state_with(dict(_params.TGT_DEFAULTS)), [spec])
    with pytest.raises(PlanError, match="13.14"):       # a new target: tgtd's defaults
        _tgt.plan(TgtState(), [spec])


def test_summary_and_predicted():
    st = state_with(dict(_params.TGT_DEFAULTS))
    spec = TargetSpec(NAME, parameters=dict(MaxBurstLength=1048576))
    assert _tgt.summary(st.targets[NAME])["parameters"] == _params.TGT_DEFAULTS
    after = _tgt.predicted(spec, st.targets[NAME], None)
    assert _tgt.summary(after)["parameters"] == dict(_params.TGT_DEFAULTS, MaxBurstLength=1048576)
    assert "parameters" not in _tgt.summary(TgtTarget(2, NAME))     # not read: not reported
    assert "parameters" not in _tgt.summary(_tgt.predicted(TargetSpec(NAME), None, 3))


def test_render_config_block():
    spec = TargetSpec(NAME, luns=[Lun(1, "/srv/a.img")], allow_all=True, parameters=TUNED)
    text = _tgt_conf.render_config(spec)
    block = text.split("</backing-store>\n", 1)[1]
    assert block.endswith("    MaxRecvDataSegmentLength 262144\n    MaxXmitDataSegmentLength 262144\n"
                          "    FirstBurstLength 262144\n    MaxBurstLength 1048576\n"
                          "    MaxOutstandingR2T 4\n    ImmediateData No\n    InitialR2T No\n"
                          "</target>\n")
    assert "MaxBurstLength" not in _tgt_conf.render_config(TargetSpec(NAME, allow_all=True))


class Runner(object):
    def __init__(self, text):
        self.text, self.history = text, []

    def which(self, name, required=True):
        return "/usr/sbin/" + name

    def __call__(self, argv, check=True, **kw):
        self.history.append(argv)
        return 0, self.text, ""


def test_read_params_asks_only_the_named_targets():
    runner = Runner(fixture("tgt_show_target_params_tuned.txt"))
    st = TgtState([TgtTarget(4, NAME), TgtTarget(5, NAME + "2")])
    _tgt_show.read_params(runner, st, [NAME, "iqn.2024-01.lab.sanboot:absent"], 9)
    assert runner.history == [["/usr/sbin/tgtadm", "-C", "9", "--lld", "iscsi", "--op", "show",
                               "--mode", "target", "--tid", "4"]]
    assert st.targets[NAME].params == TUNED and st.targets[NAME + "2"].params is None
