# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/iscsi_initiator evaluated with Ansible's templar: the initiator name built by the
convention (filter sanboot.lab.iqn), the request checks, the timer profiles written to
iscsid.conf, and the arguments each target entry gives the module."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible.errors import AnsibleError

from _templar import ROOT, RoleTemplar  # noqa: E402  pylint: disable=wrong-import-order

ROLE = RoleTemplar("iscsi_initiator", collection_plugins=True, inventory_hostname_short="client1")
_yaml, _task, evaluate = ROLE.yaml, ROLE.task, ROLE.evaluate


def _passes(task, **variables):
    conds = _task(task)["ansible.builtin.assert"]["that"]
    return all(evaluate("{%% if %s %%}1{%% else %%}0{%% endif %%}" % c, **variables) == "1" for c in conds)


def test_name_by_convention():
    assert evaluate("{{ __iscsi_initiator_iqn }}") == "iqn.2025-01.lab.sanboot:client1"


def test_name_suffix_lower_case_and_domain_reversed():
    got = evaluate("{{ __iscsi_initiator_iqn }}", inventory_hostname_short="XenHost1", iscsi_initiator_name_suffix="boot",
                   iscsi_initiator_domain="Example.ORG", iscsi_initiator_name_date="2024-05")
    assert got == "iqn.2024-05.org.example:xenhost1-boot"


def test_given_name_is_folded_to_lower_case():
    assert evaluate("{{ __iscsi_initiator_iqn }}", iscsi_initiator_name="IQN.2024-05.org.Example:H1") == \
        "iqn.2024-05.org.example:h1"


@pytest.mark.parametrize("change", [
    {"iscsi_initiator_name": "iqn.2024.05.org.example:h1"},        # dot instead of the dash
    {"iscsi_initiator_name": "iqn.2024-05.org.example:h_1"},       # underscore
    {"iscsi_initiator_name": "eui.0123456789abcdef"},              # valid iSCSI name, but not an iqn
])
def test_bad_name_is_refused(change):
    assert not _passes("Check the initiator name (RFC 3720 section 3.2.6.3.1)", **change)


@pytest.mark.parametrize("change, rule", [
    ({"inventory_hostname_short": "client_1"}, "RFC 3722"),
    ({"iscsi_initiator_name_date": "2025.01"}, "yyyy-mm"),
    ({"iscsi_initiator_domain": "-bad-.example"}, "reversed domain"),
])
def test_bad_parts_of_the_conventional_name_fail_in_the_filter(change, rule):
    # the filter refuses them with the rule while the check is templated: nothing was changed yet
    with pytest.raises(AnsibleError, match=rule):
        _passes("Check the initiator name (RFC 3720 section 3.2.6.3.1)", **change)


def test_good_name_passes():
    assert _passes("Check the initiator name (RFC 3720 section 3.2.6.3.1)")


ENTRY = {"target": "iqn.2025-01.lab.sanboot:san1.disks", "portals": ["198.51.100.10", "198.51.100.140"]}


@pytest.mark.parametrize("targets, profile", [
    ([], "plain"),
    ([ENTRY], "multipath"),
    ([dict(ENTRY, profile="root", chap={"username": "u", "password": "p"}, state="present")], "plain"),
])
def test_good_request_passes(targets, profile):
    assert _passes("Check the profile and the target entries", iscsi_initiator_targets=targets,
                   iscsi_initiator_profile=profile)


@pytest.mark.parametrize("targets, profile", [
    ([ENTRY], "fast"),                                             # unknown profile
    ([{"target": ENTRY["target"]}], "plain"),                      # no portals
    ([dict(ENTRY, portals="198.51.100.10")], "plain"),             # a string, not a list
    ([dict(ENTRY, portals=[])], "plain"),
    ([dict(ENTRY, portal=["198.51.100.10"])], "plain"),            # typo: unknown key
    ([dict(ENTRY, profile="multi")], "plain"),
])
def test_bad_request_is_refused(targets, profile):
    assert not _passes("Check the profile and the target entries", iscsi_initiator_targets=targets,
                       iscsi_initiator_profile=profile)


@pytest.mark.parametrize("profile, timers", [
    ("plain", ("120", "5", "5")),
    ("multipath", ("5", "5", "5")),
    ("root", ("86400", "0", "0")),
])
def test_profiles_in_iscsid_conf(profile, timers):
    got = evaluate("{{ __iscsi_initiator_iscsid_settings }}", iscsi_initiator_profile=profile)
    keys = ("node.session.timeo.replacement_timeout", "node.conn[0].timeo.noop_out_interval",
            "node.conn[0].timeo.noop_out_timeout")
    assert tuple(str(got[k]) for k in keys) == timers


def test_extra_iscsid_settings_override_the_profile():
    got = evaluate("{{ __iscsi_initiator_iscsid_settings }}", iscsi_initiator_profile="root",
                   iscsi_initiator_iscsid_conf={"node.session.timeo.replacement_timeout": 600,
                                                "node.session.iscsi.InitialR2T": False})
    assert got["node.session.timeo.replacement_timeout"] == 600
    assert got["node.conn[0].timeo.noop_out_interval"] == 0
    line = _task("Set the iscsid.conf defaults in place")["ansible.builtin.lineinfile"]["line"]
    assert evaluate(line, item={"key": "node.session.iscsi.InitialR2T", "value": False}) == "node.session.iscsi.InitialR2T = No"


def _module_args(entry, **variables):
    task = _task("Log in to the targets")
    v = dict(variables, item=entry)
    v["__timers"] = evaluate(task["vars"]["__timers"], **v)
    args = {}
    for key, expr in task["sanboot.lab.iscsi_initiator"].items():
        value = evaluate(expr, omit="__omit__", **v)
        if value != "__omit__":
            args[key] = value
    return args


def test_entry_gets_the_profile_timers_and_node_startup():
    args = _module_args(ENTRY, iscsi_initiator_profile="multipath")
    # values are templated to text; the module's argument spec converts them to int
    assert args == dict(ENTRY, node_startup="automatic", replacement_timeout="5", noop_out_interval="5", noop_out_timeout="5")


def test_entry_profile_and_own_values_win():
    args = _module_args(dict(ENTRY, profile="root", noop_out_interval=10, node_startup="manual", state="present"))
    assert args["replacement_timeout"] == "86400" and args["noop_out_timeout"] == "0"
    assert args["noop_out_interval"] == "10" and args["node_startup"] == "manual" and args["state"] == "present"
    assert "profile" not in args


def test_sessions_of_all_entries():
    expr = _task("Publish the initiator name and the sessions")["ansible.builtin.set_fact"]["iscsi_initiator_sessions"]
    results = {"results": [{"sessions": [{"sid": 1}, {"sid": 2}]}, {"skipped": True}, {"sessions": [{"sid": 3}]}]}
    assert evaluate(expr, __iscsi_initiator_results=results) == [{"sid": 1}, {"sid": 2}, {"sid": 3}]
    assert evaluate(expr, __iscsi_initiator_results={"skipped": True}) == []


@pytest.mark.parametrize("role", ["iscsi_initiator", "multipath"])
def test_argument_specs_match_defaults(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as f:
        options = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml"), encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    assert sorted(options) == sorted(defaults)
    for name, spec in options.items():
        assert spec["default"] == defaults[name], name
        assert spec.get("description"), name
