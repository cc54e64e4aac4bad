# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vblade argv parsing, /proc scanning, planning, refusals and unit rendering (no processes)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _vblade as vb
from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _supervise as vs

MAC = "52:54:00:00:00:20"


def params(**kw):
    base = dict(shelf=1, slot=0, interface="eth1", path="/srv/e1.0.img", readonly=False,
                allowed_macs=[], direct=False, sync=False, state="present")
    base.update(kw)
    return base


def export(pid=100, same=True, file_id=None, **kw):
    e = vb.validate(params(**{k: v for k, v in kw.items() if k in params()}))
    e.update(pid=pid, same_netns=same, file_id=file_id)
    return e


# ---- argv ------------------------------------------------------------------------------------
def test_parse_argv_plain():
    got = vb.parse_argv(["vblade", "1", "0", "eth1", "/srv/d.img"])
    assert got == {"shelf": 1, "slot": 0, "interface": "eth1", "path": "/srv/d.img", "readonly": False,
                   "direct": False, "sync": False, "allowed_macs": [], "bufcnt": None, "offset": None,
                   "length": None}


def test_parse_argv_all_options_getopt_style():
    got = vb.parse_argv(["/usr/sbin/vblade", "-rds", "-b16", "-o", "8", "-l", "100",
                         "-m", "52:54:00:00:00:21,525400000020", "7", "3", "veth0", "d.img"])
    assert got["readonly"] and got["direct"] and got["sync"]
    assert (got["bufcnt"], got["offset"], got["length"]) == (16, 8, 100)
    assert got["allowed_macs"] == [MAC, "52:54:00:00:00:21"]
    assert (got["shelf"], got["slot"], got["interface"], got["path"]) == (7, 3, "veth0", "d.img")


def test_parse_argv_permuted_and_double_dash():
    assert vb.parse_argv(["vblade", "1", "2", "eth0", "/f", "-r"])["readonly"] is True
    assert vb.parse_argv(["vblade", "--", "1", "2", "eth0", "-f"])["path"] == "-f"


@pytest.mark.parametrize("argv", [
    [], ["sh", "1", "0", "eth1", "/f"], ["vblade", "1", "0", "eth1"], ["vblade", "-x", "1", "0", "e", "/f"],
    ["vblade", "a", "0", "eth1", "/f"], ["vblade", "-m", "nonsense", "1", "0", "e", "/f"],
    ["vblade", "1", "0", "e", "/f", "-b"], ["vblade", "-b", "x", "1", "0", "e", "/f"],
])
def test_parse_argv_rejects(argv):
    assert vb.parse_argv(argv) is None


def test_build_argv_round_trip():
    desired = vb.validate(params(readonly=True, sync=True, allowed_macs=["52-54-00-00-00-20"]))
    argv = vb.build_argv(desired, "/usr/sbin/vblade")
    assert argv == ["/usr/sbin/vblade", "-r", "-s", "-m", MAC, "1", "0", "eth1", "/srv/e1.0.img"]
    assert vb.same_export(vb.parse_argv(argv), desired)


# ---- /proc -----------------------------------------------------------------------------------
def fake_proc(tmp_path, procs):
    proc = tmp_path / "proc"
    (proc / "self" / "ns").mkdir(parents=True)
    os.symlink("net:[1]", str(proc / "self" / "ns" / "net"))
    for pid, (argv, net, cwd) in procs.items():
        (proc / str(pid) / "ns").mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
        os.symlink(net, str(proc / str(pid) / "ns" / "net"))
        os.symlink(cwd, str(proc / str(pid) / "cwd"))
        os.symlink("/", str(proc / str(pid) / "root"))
    return str(proc)


def test_running_exports_scans_proc(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"\0" * 1024)
    proc = fake_proc(tmp_path, {
        10: (["vblade", "-r", "1", "0", "eth1", str(disk)], "net:[1]", "/"),
        11: (["vblade", "2", "0", "eth1", "d.img"], "net:[1]", str(tmp_path)),
        12: (["vblade", "3", "0", "eth1", str(disk)], "net:[2]", "/"),
        13: (["bash", "-c", "vblade 1 0 eth1 /x"], "net:[1]", "/"),
    })
    (tmp_path / "proc" / "14").mkdir()                         # a process that went away
    got = vb.running_exports(proc)
    assert [(e["pid"], e["shelf"], e["readonly"]) for e in got] == [(10, 1, True), (11, 2, False)]
    assert got[1]["path"] == str(disk)                         # relative to the process's cwd
    st = os.stat(str(disk))
    assert got[0]["file_id"] == got[1]["file_id"] == (st.st_dev, st.st_ino)
    every = vb.running_exports(proc, all_netns=True)
    assert [(e["pid"], e["same_netns"]) for e in every] == [(10, True), (11, True), (12, False)]


def test_pid_alive(tmp_path):
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "stat").write_text("5 (vblade) S 1 5")
    (tmp_path / "6").mkdir()
    (tmp_path / "6" / "stat").write_text("6 (a b) c) Z 1 6")
    assert vb.pid_alive(5, str(tmp_path)) and not vb.pid_alive(6, str(tmp_path))
    assert not vb.pid_alive(7, str(tmp_path))


# ---- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,words", [
    (dict(shelf=65535), "shelf=65535 is out of range"), (dict(shelf=-1), "shelf=-1"),
    (dict(slot=255), "slot=255 is out of range"), (dict(interface="a b"), "interface="),
    (dict(interface="x" * 16), "interface="), (dict(path="rel.img"), "absolute"),
    (dict(path='/srv/a"b'), "quotes"), (dict(path="/srv/$x"), "path="),
    (dict(allowed_macs=["01:02"]), "allowed_macs"),
    (dict(allowed_macs=["ff:ff:ff:ff:ff:ff"]), "allowed_macs: .* is the broadcast MAC"),
    (dict(allowed_macs=["01:00:5e:00:00:01"]), "allowed_macs: .* is a multicast MAC"),
    (dict(allowed_macs=["33-33-00-00-00-01"]), "allowed_macs: .* is a multicast MAC"),
    (dict(allowed_macs=["000000000000"]), "allowed_macs: .* all-zero"),
    (dict(interface="eth1\n"), "interface="), (dict(interface="-d"), "interface="),
    (dict(path="/srv/e1.img\n"), "path="),
])
def test_validate_refusals(kw, words):
    with pytest.raises(vb.PlanError, match=words.replace("$", r"\$")):
        vb.validate(params(**kw))


def test_validate_limits_and_absent_without_path():
    assert vb.validate(params(shelf=65534, slot=254))["shelf"] == 65534
    assert vb.validate(params(state="absent", path=None))["path"] is None
    assert vb.validate(params(allowed_macs=[MAC.upper(), MAC]))["allowed_macs"] == [MAC]


# ---- conflicts -------------------------------------------------------------------------------
def test_conflict_same_device_other_file():
    desired = vb.validate(params())
    other = export(path="/srv/other.img")
    with pytest.raises(vb.PlanError, match="already exported from another backing file /srv/other.img"):
        vb.check_conflicts(desired, [other], {}, force=False)
    assert vb.check_conflicts(desired, [other], {}, force=True) == [other]


def test_same_device_in_other_netns_or_interface_is_no_conflict():
    desired = vb.validate(params())
    exports = [export(path="/srv/other.img", same=False), export(path="/srv/x.img", interface="eth2")]
    assert vb.check_conflicts(desired, exports, {}, force=False) == []


def test_read_write_twice_refused_by_file_identity():
    desired = dict(vb.validate(params()), file_id=(1, 2))
    other = export(shelf=2, path="/srv/link.img", file_id=(1, 2), same=False)
    with pytest.raises(vb.PlanError, match="read-write by vblade pid 100"):
        vb.check_conflicts(desired, [other], {}, force=False)
    vb.check_conflicts(dict(desired, readonly=True), [other], {}, force=False)
    vb.check_conflicts(desired, [dict(other, readonly=True)], {}, force=False)
    vb.check_conflicts(desired, [other], {}, force=True)


def test_read_write_twice_with_tgt_refused():
    desired = dict(vb.validate(params()), file_id=(1, 2))
    stores = {"/srv/link.img": [{"target": "iqn.2024-01.lab.sanboot:t1", "lun": 1, "readonly": False,
                                 "file_id": (1, 2)}]}
    with pytest.raises(vb.PlanError, match="tgt target iqn.2024-01.lab.sanboot:t1 LUN 1"):
        vb.check_conflicts(desired, [], stores, force=False)
    stores["/srv/link.img"][0]["readonly"] = True
    assert vb.check_conflicts(desired, [], stores, force=False) == []


# ---- process supervisor ----------------------------------------------------------------------
def test_plan_process_start_noop_restart():
    desired = vb.validate(params())
    actions = vb.plan_process(desired, "present", [], set(), False)
    assert [a.kind for a in actions] == ["start"] and actions[0].args["export"] is desired
    running = export()
    assert vb.plan_process(desired, "present", [running], {100}, False) == []
    assert vb.plan_process(desired, "present", [running], set(), False) == []     # identical argv
    changed = vb.validate(params(readonly=True))
    assert [a.kind for a in vb.plan_process(changed, "present", [running], {100}, False)] == ["stop", "start"]


def test_plan_process_absent():
    desired = vb.validate(params(state="absent", path=None))
    assert vb.plan_process(desired, "absent", [], set(), False) == []
    actions = vb.plan_process(desired, "absent", [export()], {100}, False)
    assert [(a.kind, a.args) for a in actions] == [("stop", {"pid": 100})]
    with pytest.raises(vb.PlanError, match="not started by this module.*force=true.*no sessions"):
        vb.plan_process(desired, "absent", [export()], set(), False)
    assert "not started by this module" in vb.plan_process(desired, "absent", [export()], set(), True)[0].text


# ---- systemd supervisor ----------------------------------------------------------------------
def test_render_unit_and_env():
    unit = vs.render_unit("/usr/sbin/vblade")
    assert "EnvironmentFile=/etc/sanboot/vblade/%i.env\n" in unit
    assert ("ExecStart=/usr/sbin/vblade $VBLADE_OPTIONS ${VBLADE_SHELF} ${VBLADE_SLOT} ${VBLADE_NETIF} "
            "${VBLADE_FILE}\n") in unit
    assert "Restart=on-failure\n" in unit and "WantedBy=multi-user.target" in unit
    env = vs.render_env(vb.validate(params(readonly=True, allowed_macs=[MAC])))
    assert env.splitlines()[1:] == ['VBLADE_OPTIONS="-r -m %s"' % MAC, "VBLADE_SHELF=1", "VBLADE_SLOT=0",
                                    'VBLADE_NETIF="eth1"', 'VBLADE_FILE="/srv/e1.0.img"']
    assert 'VBLADE_OPTIONS=""' in vs.render_env(vb.validate(params()))
    assert vb.unit_instance(1, 0) == "sanboot-vblade@e1.0.service"


def systemd_state(desired, **kw):
    state = dict(unit_text=vs.render_unit(), env_text=vs.render_env(desired), enabled=True, active=True,
                 main_pid=100)
    state.update(kw)
    return state


def kinds(actions):
    return [a.kind for a in actions]


def test_plan_systemd_fresh_host():
    desired = vb.validate(params())
    fresh = dict(unit_text=None, env_text=None, enabled=False, active=False, main_pid=0)
    assert kinds(vs.plan_systemd(desired, "present", [], fresh, False)) == [
        "write_unit", "daemon_reload", "write_env", "enable"]


def test_plan_systemd_noop_and_env_change():
    desired = vb.validate(params())
    assert vs.plan_systemd(desired, "present", [export()], systemd_state(desired), False) == []
    changed = vb.validate(params(sync=True))
    assert kinds(vs.plan_systemd(changed, "present", [export()], systemd_state(desired), False)) == [
        "write_env", "restart"]


def test_plan_systemd_second_instance_does_not_reload():
    other = vb.validate(params(slot=1))
    state = systemd_state(other, env_text=None, enabled=False, active=False, main_pid=0)
    assert kinds(vs.plan_systemd(other, "present", [], state, False)) == ["write_env", "enable"]


def test_plan_systemd_unit_changed_restarts_and_foreign_process_stopped():
    desired = vb.validate(params())
    state = systemd_state(desired, unit_text="old", main_pid=100)
    foreign = export(pid=200)
    assert kinds(vs.plan_systemd(desired, "present", [export(), foreign], state, False)) == [
        "stop", "write_unit", "daemon_reload", "restart"]


def test_plan_systemd_absent():
    desired = vb.validate(params(state="absent", path=None))
    state = systemd_state(vb.validate(params()))
    assert kinds(vs.plan_systemd(desired, "absent", [export()], state, False)) == ["disable", "remove_env"]
    gone = dict(unit_text=vs.render_unit(), env_text=None, enabled=False, active=False, main_pid=0)
    assert vs.plan_systemd(desired, "absent", [], gone, False) == []
    with pytest.raises(vb.PlanError, match="does not belong to sanboot-vblade@e1.0.service"):
        vs.plan_systemd(desired, "absent", [export(pid=300)], gone, False)


# ---- apply (files only; commands through a fake runner) ---------------------------------------
class FakeRunner(object):
    def __init__(self):
        self.history = []

    def __call__(self, argv, **_kw):
        self.history.append(list(argv))
        return 0, "", ""


def test_applier_systemd_files_and_commands(tmp_path):
    runner = FakeRunner()
    desired = vb.validate(params())
    fresh = dict(unit_text=None, env_text=None, enabled=False, active=False, main_pid=0)
    applier = vs.Applier(runner, unit_dir=str(tmp_path / "units"), env_dir=str(tmp_path / "env"))
    applier.apply(vs.plan_systemd(desired, "present", [], fresh, False))
    assert (tmp_path / "units" / vb.UNIT_NAME).read_text() == vs.render_unit()
    assert (tmp_path / "env" / "e1.0.env").read_text() == vs.render_env(desired)
    assert runner.history == [["systemctl", "daemon-reload"],
                              ["systemctl", "enable", "--now", "sanboot-vblade@e1.0.service"]]
    applier.apply([vb.Action("remove_env", "", device="e1.0")])
    assert not (tmp_path / "env" / "e1.0.env").exists()


def test_state_dict_for_diff():
    assert vb.state_dict(None, "process") == {"state": "absent"}
    got = vb.state_dict(export(readonly=True), "process")
    assert got == {"state": "present", "device": "e1.0", "supervisor": "process", "interface": "eth1",
                   "path": "/srv/e1.0.img", "readonly": True, "direct": False, "sync": False,
                   "allowed_macs": []}


def test_read_pidfile(tmp_path):
    assert vs.read_pidfile("e1.0", str(tmp_path)) is None
    (tmp_path / "e1.0.pid").write_text("1234\n")
    assert vs.read_pidfile("e1.0", str(tmp_path)) == 1234


# ---- backing store and stale pidfiles --------------------------------------------------------
def test_backing_problem(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    assert vb.backing_problem(str(tmp_path / "f")) is None
    assert "is a directory" in vb.backing_problem(str(tmp_path))
    assert "is a character device" in vb.backing_problem("/dev/null")
    assert "cannot be read" in vb.backing_problem(str(tmp_path / "nope"))


def test_pidfile_state_and_stale_pidfile_plan(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = fake_proc(tmp_path, {
        20: (["vblade", "1", "0", "eth1", "/srv/e1.0.img"], "net:[1]", "/"),
        21: (["sleep", "100"], "net:[1]", "/"),
        22: (["vblade", "1", "1", "eth1", "/srv/e1.1.img"], "net:[1]", "/"),
    })
    for pid in (20, 21, 22):
        (tmp_path / "proc" / str(pid) / "stat").write_text("%d (x) S 1" % pid)
    assert vs.pidfile_state("e1.0", str(run), proc) == (None, None)
    (run / "e1.0.pid").write_text("20\n")
    assert vs.pidfile_state("e1.0", str(run), proc) == (20, None)
    for text, why in (("99\n", "no longer runs"), ("21\n", "not the vblade of e1.0"),
                      ("22\n", "not the vblade of e1.0"), ("x\n", "holds no pid")):
        (run / "e1.0.pid").write_text(text)
        pid, stale = vs.pidfile_state("e1.0", str(run), proc)
        assert pid is None and why in stale
    desired = vb.validate(params())
    (run / "e1.0.pid").write_text("99\n")
    actions = vs.plan_process_pidfile(desired, "present", [], False, str(run), proc)
    assert [a.kind for a in actions] == ["remove_pidfile", "start"]
    assert "stale pidfile" in actions[0].text
    actions = vs.plan_process_pidfile(desired, "absent", [], False, str(run), proc)
    assert [a.kind for a in actions] == ["remove_pidfile"]
    vs.Applier(None, run_dir=str(run)).apply(actions)
    assert not (run / "e1.0.pid").exists()
    assert vs.plan_process_pidfile(desired, "absent", [], False, str(run), proc) == []


# ---- buffers (vblade -b) -----------------------------------------------------------------------
def test_buffers_in_argv_env_and_diff():
    desired = vb.validate(params(buffers=64))
    argv = vb.build_argv(desired, "/usr/sbin/vblade")
    assert argv == ["/usr/sbin/vblade", "-b", "64", "1", "0", "eth1", "/srv/e1.0.img"]
    assert vb.same_export(vb.parse_argv(argv), desired)
    assert vb.same_export(vb.parse_argv(["vblade", "-b64", "1", "0", "eth1", "/srv/e1.0.img"]), desired)
    assert 'VBLADE_OPTIONS="-b 64"' in vs.render_env(desired)
    assert vb.state_dict(desired, "process")["buffers"] == 64
    assert "buffers" not in vb.state_dict(vb.validate(params()), "process")
    assert vb.describe(desired).endswith("(buffers=64)")
    assert vb.validate(params(buffers=None))["bufcnt"] is None
    assert vb.validate(params(buffers=1))["bufcnt"] == 1
    assert vb.validate(params(buffers=65535))["bufcnt"] == 65535


@pytest.mark.parametrize("value", [0, -1, 65536, True, "16"])
def test_buffers_out_of_range_refused(value):
    with pytest.raises(vb.PlanError, match=r"buffers=.*1-65535.*Buffer Count.*default \(16\)") as e:
        vb.validate(params(buffers=value))
    assert e.value.option == "buffers"


def test_buffers_change_restarts_the_export():
    running = dict(vb.parse_argv(["vblade", "-b", "16", "1", "0", "eth1", "/srv/e1.0.img"]),
                   pid=100, same_netns=True, file_id=None)
    same = vb.validate(params(buffers=16))
    assert vb.plan_process(same, "present", [running], {100}, False) == []
    for other in (vb.validate(params(buffers=32)), vb.validate(params())):   # null: no -b at all
        assert [a.kind for a in vb.plan_process(other, "present", [running], {100}, False)] == [
            "stop", "start"]
    desired = vb.validate(params(buffers=32))
    state = systemd_state(vb.validate(params(buffers=16)))
    assert kinds(vs.plan_systemd(desired, "present", [export()], state, False)) == [
        "write_env", "restart"]
