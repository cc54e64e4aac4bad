# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sanboot.lab.iscsi_target (provider tgt) through real Ansible against a real tgtd on loopback.

tgtd control port 42, portal 127.0.0.1:3263 (this file's numbers). Initiators: libiscsi tools and
qemu-io (driver=iscsi). Persisted files go to a tmp dir: the host's /etc/tgt is not touched.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from _ansible import ansible_env, command  # noqa: E402  pylint: disable=wrong-import-order

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tgtd import Tgtd, close_qemu_io, open_qemu_io  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROL, PORT = 42, 3263
PORTAL = "127.0.0.1:%d" % PORT
CLIENT = "iqn.2024-01.lab.sanboot.test:client1"
OTHER = "iqn.2024-01.lab.sanboot.test:intruder"
CHAP = dict(username="client1", password="tgt-secret-1234")
MIB = 1024 * 1024


def iqn(suffix):
    return "iqn.2024-01.lab.sanboot.test:%s" % suffix


@pytest.fixture(scope="module")
def collection():
    """The work tree is the collection (tests/conftest.py links it; see _ansible.py)."""


@pytest.fixture(scope="module")
def tgtd(request, collection):
    daemon = Tgtd(CONTROL, PORTAL)
    request.addfinalizer(daemon.stop)
    return daemon.start()


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    base = tmp_path_factory.mktemp("iscsi_target")
    out = {}
    for name, size in (("a", 64), ("b", 32), ("c", 16), ("d", 16), ("e", 16)):
        path = base / ("%s.img" % name)
        with open(path, "wb") as f:
            f.truncate(size * MIB)
        out[name] = str(path)
    out["conf"] = str(base / "conf.d")
    return out


def run(args, check=False, diff=False):
    """Run the module with `ansible localhost -m`; return its result dict."""
    env = ansible_env()
    argv = [command("ansible"), "localhost", "-m", "sanboot.lab.iscsi_target",
            "-a", json.dumps(args)] + (["--check"] if check else []) + (["--diff"] if diff else [])
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def base_args(disks, name, **kw):
    args = dict(name=name, control_port=CONTROL, config_dir=disks["conf"], portals=[PORTAL],
                luns=[dict(lun=1, path=disks["a"]), dict(lun=2, path=disks["b"], serial="B0002")],
                initiators=[CLIENT], chap=CHAP)
    args.update(kw)
    return args


def url(target, lun=1, chap=None):
    cred = "%s%%%s@" % (chap["username"], chap["password"]) if chap else ""
    return "iscsi://%s%s/%s/%d" % (cred, PORTAL, target, lun)


def libiscsi(tool, target, initiator=CLIENT, chap="default", lun=1):
    chap = CHAP if chap == "default" else chap
    return subprocess.run([tool, "-i", initiator, url(target, lun, chap)], capture_output=True,
                          text=True, timeout=60, check=False)


def qemu_io(target, *cmds, initiator=CLIENT):
    chap = CHAP
    opts = "driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1,initiator-name=%s" % (
        PORTAL, target, initiator)
    argv = ["qemu-io"]
    if chap:
        argv += ["--object", "secret,id=s0,data=%s" % chap["password"]]
        opts += ",user=%s,password-secret=s0" % chap["username"]
    argv += ["--image-opts", opts]
    for c in cmds:
        argv += ["-c", c]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def session(tmp_path):
    """Hold an iSCSI session open: qemu-io reading commands from a FIFO (stopped by its PID)."""
    procs = []

    def open_session(target):
        fifo = str(tmp_path / ("s%d.fifo" % len(procs)))
        os.mkfifo(fifo)
        proc = open_qemu_io(PORTAL, target, CLIENT, CHAP)
        procs.append(proc)
        return proc

    yield open_session
    for proc in procs:
        if proc.poll() is None:
            close_qemu_io(proc)


def test_bad_input_refused_before_any_change(tgtd, disks):
    cases = [
        (dict(name="iqn.2008.06.biz.frode:storage.vmware"), ["dash", "RFC 3720"]),
        (dict(chap=dict(username="u", password="short-11ch")), ["chap.password", "RFC 3720", "12"]),
        (dict(initiator_addresses=["127.0.0.1"]), ["OR", "initiators"]),
        (dict(luns=[dict(lun=1, path=disks["a"] + ".missing")]), ["luns[0].path", "does not exist"]),
        (dict(luns=[dict(lun=0, path=disks["a"])]), ["luns[0].lun", "1-255"]),
    ]
    for extra, words in cases:
        res = run(dict(base_args(disks, iqn("bad")), **extra))
        assert res.get("failed"), res
        for w in words:
            assert w in res["msg"], res["msg"]
    assert tgtd.tids() == []
    assert not os.path.exists(disks["conf"]) or os.listdir(disks["conf"]) == []


def test_create_login_idempotent(tgtd, disks):
    name = iqn("main")
    args = base_args(disks, name)
    res = run(args, check=True, diff=True)
    assert res["changed"] and "create target %s (tid 1)" % name in res["changes"]
    assert res["commands"] == [] and tgtd.tids() == []
    assert "B0002" in res["diff"]["after"] and res["diff"]["before"] == "[]\n"

    res = run(args, diff=True)
    assert res["changed"] and res["commands"], res
    assert CHAP["password"] not in json.dumps(res["changes"] + res["commands"])
    assert res["target"]["luns"][0]["size_bytes"] == 64 * MIB
    assert res["target"]["luns"][1] == dict(lun=2, path=disks["b"], size_bytes=32 * MIB,
                                            readonly=False, type="fileio", serial="B0002")
    assert "name: %s" % name in res["diff"]["after"]
    conf = os.path.join(disks["conf"], name.replace(":", "_") + ".conf")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600

    again = run(args, diff=True)
    assert again["changed"] is False and again["changes"] == [] and again["commands"] == []
    assert run(args, check=True)["changed"] is False

    # the allowed initiator with CHAP logs in and reads the capacity
    out = libiscsi("iscsi-readcapacity16", name)
    assert out.returncode == 0 and "Total size:%d" % (64 * MIB) in out.stdout, out
    assert "VIRTUAL-DISK" in libiscsi("iscsi-inq", name, lun=2).stdout
    # a wrong initiator name and a login without CHAP are refused
    wrong = libiscsi("iscsi-inq", name, initiator=OTHER)
    assert wrong.returncode != 0 and "Target not found" in wrong.stdout + wrong.stderr
    nochap = libiscsi("iscsi-inq", name, chap=None)
    assert nochap.returncode != 0 and "Authentication failure" in nochap.stdout + nochap.stderr
    # written data reads back
    rw = qemu_io(name, "write -P 0xa5 1M 64k", "read -P 0xa5 1M 64k")
    assert rw.returncode == 0 and "Pattern verification failed" not in rw.stdout, rw
    with open(disks["a"], "rb") as f:
        f.seek(MIB)
        assert f.read(65536) == b"\xa5" * 65536


def test_change_chap_secret_and_acl(tgtd, disks):
    name = iqn("main")
    chap = dict(username="client1", password="another-secret-99")
    res = run(base_args(disks, name, chap=chap))
    assert res["changed"] and any("recreate CHAP account client1" in c for c in res["changes"])
    assert libiscsi("iscsi-inq", name, chap=chap).returncode == 0
    assert libiscsi("iscsi-inq", name).returncode != 0          # old secret refused
    assert run(base_args(disks, name, chap=chap))["changed"] is False
    res = run(base_args(disks, name))                            # back to the first secret
    assert res["changed"] and libiscsi("iscsi-inq", name).returncode == 0


def test_active_session_blocks_lun_removal(tgtd, disks, session):
    name = iqn("main")
    holder = session(name)
    assert run(base_args(disks, name))["target"]["sessions"] == [
        dict(initiator=CLIENT, address="127.0.0.1")]
    args = base_args(disks, name, luns=[dict(lun=1, path=disks["a"])])
    res = run(args)
    assert res.get("failed") and "active session" in res["msg"] and "force" in res["msg"]
    assert "LUN: 2" in tgtd.show()
    res = run(dict(args, force=True))
    assert res["changed"] and "LUN: 2" not in tgtd.show()
    assert holder.poll() is None


def test_shared_backing_store_refused(tgtd, disks):
    res = run(base_args(disks, iqn("second"), luns=[dict(lun=1, path=disks["a"])]))
    assert res.get("failed") and "already exported by target %s" % iqn("main") in res["msg"]
    assert "second" not in tgtd.show()


def test_restart_restores_persisted_state(tgtd, disks):
    name = iqn("main")
    args = base_args(disks, name)
    assert run(args)["target"]["luns"][1]["lun"] == 2
    conf = os.path.join(disks["conf"], name.replace(":", "_") + ".conf")
    tgtd.stop()
    tgtd.start()
    subprocess.run(["tgt-admin", "-C", str(CONTROL), "-e", "-c", conf], check=True,
                   capture_output=True)
    res = run(args)
    assert res["changed"] is False and res["commands"] == [], res["changes"]
    assert libiscsi("iscsi-inq", name).returncode == 0
    assert libiscsi("iscsi-inq", name, initiator=OTHER).returncode != 0


def test_targets_list_and_purge(tgtd, disks):
    t2, t3 = iqn("list2"), iqn("list3")
    items = [dict(name=t2, luns=[dict(lun=1, path=disks["c"])], initiator_addresses=["127.0.0.1"]),
             dict(name=t3, luns=[dict(lun=1, path=disks["d"], readonly=True)], allow_all=True)]
    args = dict(targets=items, control_port=CONTROL, config_dir=disks["conf"])
    res = run(args)
    assert res["changed"] and [t["name"] for t in res["targets"]] == [t2, t3]
    assert libiscsi("iscsi-inq", t2, initiator=OTHER, chap=None).returncode == 0  # by address
    assert run(args)["changed"] is False
    res = run(dict(args, purge=True), check=True)
    assert "remove target %s (tid 1)" % iqn("main") in res["changes"]
    res = run(dict(args, purge=True))
    assert res["changed"] and iqn("main") not in tgtd.show()
    assert sorted(os.listdir(disks["conf"])) == sorted(
        n.replace(":", "_") + ".conf" for n in (t2, t3))
    res = run(dict(args, targets=[dict(name=t2, state="absent"), dict(name=t3, state="absent")]))
    assert res["changed"] and tgtd.tids() == [] and os.listdir(disks["conf"]) == []


def test_backing_store_exported_by_vblade_refused(tgtd, disks, tmp_path):
    """A store a running vblade exports read-write is refused (vblade on lo, stopped by PID)."""
    path = str(tmp_path / "aoe.img")
    with open(path, "wb") as f:
        f.truncate(8 * MIB)
    proc = subprocess.Popen(["vblade", "4242", "42", "lo", path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        name = iqn("aoe")
        res = run(dict(name=name, control_port=CONTROL, config_dir=disks["conf"],
                       luns=[dict(lun=1, path=path)], allow_all=True))
        assert res.get("failed") and "AoE export e4242.42 on lo" in res["msg"], res
        assert name not in tgtd.show()
    finally:
        proc.kill()
        proc.wait()


TUNED = dict(MaxRecvDataSegmentLength=131072, MaxXmitDataSegmentLength=65536,
             FirstBurstLength=131072, MaxBurstLength=524288, MaxOutstandingR2T=4,
             ImmediateData=False, InitialR2T=False)


def shown_params(tgtd, tid):
    out = tgtd.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target", "--tid", str(tid)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def as_tgt(value):
    return ("Yes" if value else "No") if isinstance(value, bool) else str(value)


def test_parameters_applied_persisted_idempotent(tgtd, disks):
    name = iqn("tuned")
    args = base_args(disks, name, luns=[dict(lun=1, path=disks["e"])], parameters=TUNED)
    res = run(args, check=True, diff=True)
    assert res["changed"] and res["commands"] == [] and name not in tgtd.show()
    assert "set MaxBurstLength of %s to 524288" % name in res["changes"]
    assert "MaxBurstLength: 524288" in res["diff"]["after"]

    res = run(args, diff=True)
    tid = res["target"]["tid"]
    assert res["changed"] and res["target"]["parameters"] == TUNED, res
    updates = [c for c in res["commands"] if "--op update --mode target" in c]
    assert len(updates) == 7 and updates[0].endswith("--name MaxBurstLength --value 524288")
    shown = shown_params(tgtd, tid)
    assert dict((k, shown[k]) for k in TUNED) == dict((k, as_tgt(v)) for k, v in TUNED.items())
    conf = os.path.join(disks["conf"], name.replace(":", "_") + ".conf")
    with open(conf) as f:
        text = f.read()
    assert "    MaxBurstLength 524288\n" in text and "    ImmediateData No\n" in text

    again = run(args, diff=True)
    assert again["changed"] is False and again["commands"] == [] and again["changes"] == []
    assert again["diff"]["before"] == again["diff"]["after"]

    # a new session gets them: the login answer as libiscsi logs it (LIBISCSI_DEBUG)
    login = subprocess.run(["iscsi-inq", "-i", CLIENT, url(name, 1, CHAP)], capture_output=True,
                           text=True, timeout=60, check=False, env=dict(os.environ, LIBISCSI_DEBUG="9"))
    out = login.stdout + login.stderr
    assert login.returncode == 0, out
    for key in ("MaxRecvDataSegmentLength=131072", "ImmediateData=No", "InitialR2T=No",
                "FirstBurstLength=131072"):
        assert "TargetLoginReply: %s " % key in out, out

    # persisted: a new tgtd with the file replayed by tgt-admin has the same values
    tgtd.stop()
    tgtd.start()
    subprocess.run(["tgt-admin", "-C", str(CONTROL), "-e", "-c", conf], check=True,
                   capture_output=True)
    shown = shown_params(tgtd, tgtd.tids()[0])
    assert dict((k, shown[k]) for k in TUNED) == dict((k, as_tgt(v)) for k, v in TUNED.items())
    assert run(args)["changed"] is False

    # one key changed: one command; keys left out are untouched (only the file loses them)
    res = run(dict(args, parameters=dict(TUNED, MaxOutstandingR2T=8)))
    assert [c.split("--name ")[1] for c in res["commands"]] == ["MaxOutstandingR2T --value 8"]
    res = run(base_args(disks, name, luns=[dict(lun=1, path=disks["e"])]))
    assert res["changed"] and res["commands"] == [] and "parameters" not in res["target"]
    assert shown_params(tgtd, tgtd.tids()[0])["MaxOutstandingR2T"] == "8"
    # refused before anything changes
    res = run(dict(args, parameters=dict(MaxRecvDataSegmentLength=256)))
    assert res.get("failed") and "RFC 7143 section 13.12" in res["msg"], res
    assert run(dict(args, state="absent"))["changed"] and tgtd.tids() == []
