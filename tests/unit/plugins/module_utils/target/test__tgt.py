"""Unit tests for _tgt: parser on captured tgt 1.0.85 output, planner (pure), persisted config."""

import os

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.target import _tgt
from ansible_collections.sanboot.lab.plugins.module_utils.target import _tgt_conf
from ansible_collections.sanboot.lab.plugins.module_utils.target import _tgt_show
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import Lun, TargetSpec
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt import PlanError, plan
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import TgtState

T1, T3 = "iqn.2024-01.lab.sanboot:t1", "iqn.2024-01.lab.sanboot:t3"
NEW = "iqn.2024-01.lab.sanboot:new"
C1 = "iqn.2024-01.lab.sanboot:client1"
A, B, C = "/tmp/htgt/a.img", "/tmp/htgt/b.img", "/tmp/htgt/c.img"
CHAP1 = dict(username="alice", password="secretsecret12", mutual_username="tgtout",
             mutual_password="mutualsecret12")
KNOWN = {"alice": "secretsecret12", "tgtout": "mutualsecret12"}


fixture = fixture_reader()


@pytest.fixture
def state():
    return TgtState(_tgt_show.parse_targets(fixture("tgt_show_target.txt"), sizes=False),
                    _tgt_show.parse_accounts(fixture("tgt_show_account.txt")),
                    _tgt_show.parse_portals(fixture("tgt_show_portal.txt")))


def t1_spec(**kw):
    args = dict(luns=[Lun(1, A, serial="SN123"), Lun(2, B, readonly=True)], initiators=[C1],
                addresses=["127.0.0.1", "10.0.0.0/8"], chap=dict(CHAP1))
    args.update(kw)
    return TargetSpec(T1, **args)


def t3_spec(**kw):
    args = dict(luns=[Lun(1, A), Lun(2, C, type="blockio")], allow_all=True)
    args.update(kw)
    return TargetSpec(T3, **args)


def args_of(changes):
    return [c.args for c in changes if c.args]


def test_parse(state):
    t1, t3 = state.targets[T1], state.targets[T3]
    assert (t1.tid, t3.tid) == (1, 3)
    assert [(x.lun, x.path, x.readonly, x.type, x.serial) for x in t1.luns] == [
        (1, A, False, "fileio", "SN123"), (2, B, True, "fileio", "beaf12")]
    assert t1.luns[0].size_bytes == 67 * 1000 * 1000
    assert t1.incoming == ["alice"] and t1.outgoing == ["tgtout"]
    assert t1.addresses == ["127.0.0.1", "10.0.0.0/8"] and t1.initiators == [C1]
    assert not t1.allow_all and t1.sessions == []
    assert t3.allow_all and t3.luns[1].type == "blockio"
    assert t3.sessions == [dict(initiator="iqn.2024-01.lab.sanboot:holder", address="127.0.0.1")]
    assert state.accounts == ["tgtout", "alice"] and state.portals == ["127.0.0.1:3261"]


def test_parse_sizes_from_files(tmp_path):
    p = tmp_path / "x.img"
    p.write_bytes(b"\0" * 12345)
    text = fixture("tgt_show_target.txt").replace(A, str(p))
    assert _tgt_show.parse_targets(text)[0].luns[0].size_bytes == 12345


def test_parse_ignores_never_matching_address():
    text = "Target 1: %s\n    ACL information:\n        255.255.255.255\n        %s\n" % (T1, C1)
    t = _tgt_show.parse_targets(text)[0]
    assert t.addresses == [] and t.initiators == [C1]


def test_noop_plans_nothing(state):
    assert plan(state, [t1_spec(), t3_spec()], known=KNOWN) == []


def test_new_target_order():
    changes = plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, A), Lun(2, B, "blockio", True, "S2")],
                                           initiators=[C1], chap=dict(username="u",
                                                                      password="p" * 12))])
    assert args_of(changes) == [
        ["--op", "new", "--mode", "account", "--user", "u", "--password", "p" * 12],
        ["--op", "new", "--mode", "target", "--tid", "1", "-T", NEW],
        ["--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", A],
        ["--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "-b", B,
         "--bsoflags", "direct"],
        ["--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params",
         "readonly=1"],
        ["--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params",
         "scsi_sn=S2"],
        ["--op", "bind", "--mode", "account", "--tid", "1", "--user", "u"],
        ["--op", "bind", "--mode", "target", "--tid", "1", "-Q", C1],
    ]
    assert all("p" * 12 not in c.text for c in changes)


def test_tids_fill_gaps(state):
    changes = plan(state, [TargetSpec(NEW), TargetSpec(NEW + "2")], known=KNOWN)
    assert [a[5] for a in args_of(changes) if a[:4] == ["--op", "new", "--mode", "target"]] == ["2", "4"]


def test_lun_update_in_place(state):
    changes = plan(state, [t1_spec(luns=[Lun(1, A, serial="NEW"), Lun(2, B)])], known=KNOWN)
    assert args_of(changes) == [
        ["--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--params", "scsi_sn=NEW"],
        ["--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "readonly=0"]]


def test_remove_lun_with_session_refused(state):
    with pytest.raises(PlanError, match="active session.*force"):
        plan(state, [t3_spec(luns=[Lun(1, A)])])
    with pytest.raises(PlanError, match="active session"):
        plan(state, [t3_spec(luns=[Lun(1, A), Lun(2, C)])])   # type change = replace
    changes = plan(state, [t3_spec(luns=[Lun(1, A)])], force=True)
    assert args_of(changes) == [["--op", "delete", "--mode", "logicalunit", "--tid", "3", "--lun", "2"]]


def test_remove_lun_without_session(state):
    assert args_of(plan(state, [t1_spec(luns=[Lun(1, A, serial="SN123")])], known=KNOWN)) == [
        ["--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "2"]]


def test_remove_target(state):
    with pytest.raises(PlanError, match="t3 has 1 active session"):
        plan(state, [TargetSpec(T3, "absent")])
    assert args_of(plan(state, [TargetSpec(T3, "absent")], force=True)) == [
        ["--op", "delete", "--mode", "target", "--tid", "3", "--force"]]
    changes = plan(state, [TargetSpec(T1, "absent")])
    assert args_of(changes) == [["--op", "delete", "--mode", "target", "--tid", "1"],
                                ["--op", "delete", "--mode", "account", "--user", "alice"],
                                ["--op", "delete", "--mode", "account", "--user", "tgtout"]]
    assert plan(state, [TargetSpec(NEW, "absent")]) == []


def test_purge(state):
    with pytest.raises(PlanError, match="purge"):
        plan(state, [t1_spec()], purge=True, known=KNOWN)
    changes = plan(state, [t1_spec()], purge=True, force=True, known=KNOWN)
    assert args_of(changes) == [["--op", "delete", "--mode", "target", "--tid", "3", "--force"]]


@pytest.fixture
def by_path(monkeypatch):
    """Stores of the captured state do not exist here: identify them by path."""
    monkeypatch.setattr(_tgt, "store_id", lambda p: ("path", os.path.normpath(p)) if p else None)


def test_shared_backing_store_refused(state, by_path):
    with pytest.raises(PlanError, match="already exported by target .*t1 LUN 1"):
        plan(state, [TargetSpec(NEW, luns=[Lun(1, A)])], known=KNOWN)
    with pytest.raises(PlanError, match="both are read-only"):
        plan(state, [TargetSpec(NEW, luns=[Lun(1, A, readonly=True)])])
    # b.img is read-only in t1: a read-only second export is fine
    assert plan(state, [TargetSpec(NEW, luns=[Lun(1, B, readonly=True)])])
    # the target being removed in the same call does not count
    assert plan(state, [TargetSpec(NEW, luns=[Lun(1, C)]), TargetSpec(T3, "absent")], force=True)


def vblade(path, store, **kw):
    e = dict(kind="vblade", shelf=3, slot=4, interface="veth0", path=path, readonly=False,
             pid=7, id=store)
    e.update(kw)
    return e


def test_export_matched_by_store_identity(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"")
    st = os.stat(str(disk))
    same = vblade("/srv/elsewhere.img", (st.st_dev, st.st_ino))
    with pytest.raises(PlanError, match=r"AoE export e3.4 on veth0 \(vblade pid 7\) as "
                       r"/srv/elsewhere.img \(the same file\)"):
        plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, str(disk))])], exports=[same])
    other = vblade(str(disk), (st.st_dev, st.st_ino + 1))   # a container's own file
    assert plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, str(disk))])], exports=[other])


def test_export_refused_unless_both_read_only(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"")
    st = os.stat(str(disk))
    exports = [vblade(str(disk), (st.st_dev, st.st_ino)),
               dict(kind="tgt", control_port=61, tid=1, target=T3, lun=2, path=str(disk),
                    readonly=False, id=(st.st_dev, st.st_ino))]
    with pytest.raises(PlanError, match="AoE export e3.4.*iSCSI target %s LUN 2 \\(tgtd control "
                       "port 61\\)" % T3):
        plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, str(disk))])], exports=exports)
    with pytest.raises(PlanError, match="read-only"):
        plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, str(disk), readonly=True)])],
             exports=exports)
    for e in exports:
        e["readonly"] = True
    assert plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, str(disk), readonly=True)])],
                exports=exports)


def test_hard_link_to_a_store_of_another_target_refused(tmp_path):
    store, link = tmp_path / "a.img", tmp_path / "hard.img"
    store.write_bytes(b"")
    os.link(str(store), str(link))
    sym = tmp_path / "sym.img"
    sym.symlink_to(store)
    state = TgtState(_tgt_show.parse_targets(
        "Target 1: %s\n    LUN information:\n        LUN: 1\n            Readonly: No\n"
        "            Backing store path: %s\n" % (T1, store), sizes=False))
    for path in (link, sym):
        with pytest.raises(PlanError, match="target %s LUN 1 as %s \\(the same file\\)"
                           % (T1, store)):
            plan(state, [TargetSpec(NEW, luns=[Lun(1, str(path))])])
    # read-only on both sides is allowed
    state.targets[T1].luns[0].readonly = True
    assert plan(state, [TargetSpec(NEW, luns=[Lun(1, str(link), readonly=True)])])


def test_chap_password_change(state):
    chap = dict(CHAP1, password="anothersecret1")
    changes = plan(state, [t1_spec(chap=chap)], known=KNOWN)
    assert args_of(changes) == [
        ["--op", "delete", "--mode", "account", "--user", "alice"],
        ["--op", "new", "--mode", "account", "--user", "alice", "--password", "anothersecret1"],
        ["--op", "bind", "--mode", "account", "--tid", "1", "--user", "alice"]]
    assert "anothersecret1" not in " ".join(c.text for c in changes)
    # an unknown secret is recreated, unless trusted (persist: false)
    assert len(args_of(plan(state, [t1_spec()], known={}))) == 6
    assert plan(state, [t1_spec()], known={}, trust_unknown=True) == []


def test_chap_account_shared_with_unmanaged_target(state):
    state.targets[T3].incoming.append("alice")
    with pytest.raises(PlanError, match="also change it for target.*t3"):
        plan(state, [t1_spec(chap=dict(CHAP1, password="anothersecret1"))], known=KNOWN)
    changes = plan(state, [t1_spec(chap=dict(CHAP1, password="anothersecret1"))], known=KNOWN,
                   force=True)
    assert ["--op", "bind", "--mode", "account", "--tid", "3", "--user", "alice"] in args_of(changes)
    # removing CHAP from t1 keeps the account t3 still uses
    changes = plan(state, [t1_spec(chap=None)], known=KNOWN)
    assert args_of(changes) == [
        ["--op", "unbind", "--mode", "account", "--tid", "1", "--user", "alice"],
        ["--op", "unbind", "--mode", "account", "--tid", "1", "--user", "tgtout", "--outgoing"],
        ["--op", "delete", "--mode", "account", "--user", "tgtout"]]


def test_two_secrets_for_one_account(state):
    with pytest.raises(PlanError, match="two different secrets"):
        plan(state, [t1_spec(), TargetSpec(NEW, chap=dict(username="alice", password="x" * 12))],
             known=KNOWN)


def test_acl_tightened_before_widened(state):
    changes = plan(state, [t1_spec(initiators=["iqn.2024-01.lab.sanboot:c2"], addresses=[])],
                   known=KNOWN)
    assert args_of(changes) == [
        ["--op", "unbind", "--mode", "target", "--tid", "1", "-I", "127.0.0.1"],
        ["--op", "unbind", "--mode", "target", "--tid", "1", "-I", "10.0.0.0/8"],
        ["--op", "unbind", "--mode", "target", "--tid", "1", "-Q", C1],
        ["--op", "bind", "--mode", "target", "--tid", "1", "-Q", "iqn.2024-01.lab.sanboot:c2"]]
    changes = plan(state, [t3_spec(allow_all=False)], known=KNOWN)
    assert args_of(changes) == [["--op", "unbind", "--mode", "target", "--tid", "3", "-I", "ALL"]]


def test_portals(state):
    changes = plan(state, [], portals=["127.0.0.1:3261", "198.51.100.10:3260"])
    assert args_of(changes) == [["--op", "new", "--mode", "portal", "--param",
                                 "portal=198.51.100.10:3260"]]


@pytest.mark.parametrize("value, expected", [
    ("198.51.100.10", "198.51.100.10:3260"), ("127.0.0.1:3261", "127.0.0.1:3261"),
    ("[2001:db8::1]:3261", "[2001:db8::1]:3261"), ("2001:db8::1", "[2001:db8::1]:3260")])
def test_normalise_portal(value, expected):
    assert _tgt.normalise_portal(value) == expected


@pytest.mark.parametrize("value", ["host.example:3260", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3"])
def test_normalise_portal_bad(value):
    with pytest.raises(ValueError, match="portals"):
        _tgt.normalise_portal(value)


def test_render_config():
    text = _tgt_conf.render_config(t1_spec(luns=[Lun(1, A), Lun(2, B, "blockio", True, "S2")],
                                           addresses=[]))
    assert text.startswith(_tgt_conf.MARKER)
    assert "<target %s>" % T1 in text and "    <backing-store %s>\n        lun 2\n" \
        "        bsoflags direct\n        readonly 1\n        scsi_sn S2\n" % B in text
    assert "initiator-address 255.255.255.255" in text and "initiator-name %s" % C1 in text
    assert "incominguser alice secretsecret12" in text
    assert "outgoinguser tgtout mutualsecret12" in text
    assert "initiator-address" not in _tgt_conf.render_config(TargetSpec(NEW, allow_all=True))
    addr = _tgt_conf.render_config(TargetSpec(NEW, addresses=["10.0.0.0/8"]))
    assert "initiator-address 10.0.0.0/8" in addr and "255.255.255.255" not in addr


def test_persist_roundtrip(tmp_path):
    d = str(tmp_path / "conf.d")
    specs = [t1_spec(), TargetSpec(NEW, allow_all=True)]
    writes = _tgt_conf.persist_plan(d, specs)
    assert [os.path.basename(w[0]) for w in writes] == [
        "iqn.2024-01.lab.sanboot_t1.conf", "iqn.2024-01.lab.sanboot_new.conf"]
    _tgt_conf.persist(writes)
    assert oct(os.stat(writes[0][0]).st_mode & 0o777) == "0o600"
    assert _tgt_conf.persist_plan(d, specs) == []
    assert _tgt_conf.known_secrets(d) == KNOWN
    (tmp_path / "conf.d" / "other.conf").write_text("<target iqn.2000-01.x:y>\n</target>\n")
    assert _tgt_conf.persist_plan(d, [t1_spec()], purge=True) == [(writes[1][0], None)]
    assert _tgt_conf.persist_plan(d, [TargetSpec(NEW, "absent")]) == [(writes[1][0], None)]
    assert _tgt_conf.persist_plan(d, [TargetSpec("iqn.2000-01.x:y", "absent")]) == []


def test_redact():
    assert _tgt.redact(["tgtadm", "--user", "u", "--password", "s"]) == [
        "tgtadm", "--user", "u", "--password", "********"]


class FakeRunner(object):
    def __init__(self, outputs):
        self.outputs, self.history = outputs, []

    def which(self, name, required=True):
        return "/usr/sbin/" + name

    def __call__(self, argv, check=True, **kw):
        self.history.append(argv)
        return self.outputs.get(argv[argv.index("--mode") + 1], (0, "", ""))

    def fail(self, *a):
        raise AssertionError(a)


def test_existing_export_not_rechecked_unless_it_becomes_writable(state, by_path):
    # a.img is read-write in t1 and t3 already (captured state): t1 can still be changed...
    assert plan(state, [t1_spec()], known=KNOWN) == []
    # ...but making t1's read-only LUN 2 (b.img) writable while t3 exports it is refused
    state.targets[T3].luns.append(Lun(5, B, readonly=True))
    with pytest.raises(PlanError, match="b.img"):
        plan(state, [t1_spec(luns=[Lun(1, A, serial="SN123"), Lun(2, B)])], known=KNOWN)


def test_read_only_switch_with_session_needs_force(state):
    # t3 has a session (captured state); its LUN 1 (a.img) is read-write
    with pytest.raises(PlanError, match=r"luns\[0\].readonly: target %s has 1 active session.*force"
                       % T3):
        plan(state, [t3_spec(luns=[Lun(1, A, readonly=True), Lun(2, C, type="blockio")])])
    changes = plan(state, [t3_spec(luns=[Lun(1, A, readonly=True), Lun(2, C, type="blockio")])],
                   force=True)
    assert "set LUN 1 of %s read-only" % T3 in [c.text for c in changes]


def test_undo_of_what_a_run_creates(state):
    changes = plan(state, [TargetSpec(NEW, luns=[Lun(1, C)], chap=dict(username="newuser",
                                                                       password="newsecret123"))])
    undo = dict((c.text, c.undo) for c in changes if c.text)
    assert undo["create CHAP account newuser (password ********)"] == [
        ["--op", "delete", "--mode", "account", "--user", "newuser"]]
    assert undo["create target %s (tid 2)" % NEW] == [
        ["--op", "delete", "--mode", "target", "--tid", "2", "--force"]]
    assert undo["add LUN 1 %s (fileio) to %s" % (C, NEW)] == [
        ["--op", "delete", "--mode", "logicalunit", "--tid", "2", "--lun", "1"]]


# ---------------------------------------------------------------- scale (issue 13)
def many(n, luns=4, prefix="/tmp/htgt/scale"):
    specs = [TargetSpec("iqn.2024-01.lab.sanboot:s%04d" % i,
                        luns=[Lun(x, "%s%04d-%d.img" % (prefix, i, x)) for x in range(1, luns + 1)],
                        addresses=["127.0.0.1"]) for i in range(n)]
    state = TgtState()
    for i, s in enumerate(specs):
        t = _tgt_show.TgtTarget(i + 1, s.name)
        t.luns, t.addresses = list(s.luns), ["127.0.0.1"]
        state.targets[s.name] = t
    return specs, state


def test_noop_never_asks_the_other_exporters():
    specs, state = many(50)

    def exports():
        raise AssertionError("asked")
    assert plan(state, specs, exports=exports) == []


def test_other_exporters_asked_once_when_a_lun_needs_the_check(tmp_path):
    asked = []

    def exports():
        asked.append(1)
        return []
    specs = [TargetSpec("iqn.2024-01.lab.sanboot:n%d" % i,
                        luns=[Lun(1, str(tmp_path / ("%d.img" % i)))]) for i in range(3)]
    for s in specs:
        open(s.luns[0].path, "w").close()
    assert len(args_of(plan(TgtState(), specs, exports=exports))) == 3 * 2 and asked == [1]


def test_conflicts_found_through_the_index_in_tid_order(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"")
    link = tmp_path / "l.img"
    os.link(str(disk), str(link))
    dummy, state = many(3, luns=1, prefix=str(tmp_path / "s"))
    state.targets["iqn.2024-01.lab.sanboot:s0002"].luns[0].path = str(link)
    state.targets["iqn.2024-01.lab.sanboot:s0000"].luns[0].path = str(disk)
    with pytest.raises(PlanError, match=r"exported by target iqn.2024-01.lab.sanboot:s0000 LUN 1, "
                       r"target iqn.2024-01.lab.sanboot:s0002 LUN 1 as %s \(the same file\)" % link):
        plan(state, [TargetSpec(NEW, luns=[Lun(1, str(disk))])])


def test_new_targets_take_the_lowest_free_tids():
    dummy, state = many(5, luns=0)
    for name in ("iqn.2024-01.lab.sanboot:s0001", "iqn.2024-01.lab.sanboot:s0003"):
        del state.targets[name]           # tids 2 and 4 free
    specs = [TargetSpec("iqn.2024-01.lab.sanboot:n%d" % i) for i in range(3)]
    creates = [c.args for c in plan(state, specs) if c.args[:4] == ["--op", "new", "--mode", "target"]]
    assert [a[5] for a in creates] == ["2", "4", "6"]


def test_plan_leaves_the_state_as_read(state):
    before = [(t.name, list(t.incoming), list(t.outgoing), [x.as_dict() for x in t.luns])
              for t in state.targets.values()]
    state.targets[T3].incoming.append("alice")
    chap = dict(CHAP1, password="anothersecret1")
    assert plan(state, [t1_spec(chap=chap)], known=KNOWN, force=True)
    state.targets[T3].incoming.remove("alice")
    assert before == [(t.name, t.incoming, t.outgoing, [x.as_dict() for x in t.luns])
                      for t in state.targets.values()]
    # the same plan twice: the first left nothing behind in the state
    assert args_of(plan(state, [t1_spec(chap=chap)], known=KNOWN)) == \
        args_of(plan(state, [t1_spec(chap=chap)], known=KNOWN))
