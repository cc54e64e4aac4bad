# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults around a real tgtd and sanboot.lab.iscsi_target (provider tgt).

* tgtd killed (SIGKILL) during writes: a new tgtd on the same control port, the same request
  restores targets, LUNs, ACLs and accounts; acknowledged writes are intact; the next run is a no-op.
* two runs at once against one tgtd (the per-control-port lock).
* a tgtadm failure half-way: what the run created is rolled back, secrets stay out of the output.
* switching a LUN to read-only under a session needs force; a hard link to a store another tgtd
  exports is refused.

Control ports 61-65, portals 127.0.0.1:3271-3275.  Persisted files go to tmp dirs.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ansible import COLLECTIONS, ansible_env, command, run_module  # noqa: E402  pylint: disable=wrong-import-position
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT = "iqn.2024-01.lab.sanboot.fault:client"
CHAP = dict(username="faultuser", password="fault-secret-12")
MIB = 1024 * 1024


def iqn(suffix):
    return "iqn.2024-01.lab.sanboot.fault:%s" % suffix


def disk(path, size=16 * MIB):
    with open(str(path), "wb") as f:
        f.truncate(size)
    return str(path)


@pytest.fixture
def daemons():
    started = []

    def start(port, portal):
        d = Tgtd(port, portal).start()
        started.append(d)
        return d
    yield start
    for d in started:
        d.stop()


def qemu_open(portal, target, chap=None):
    chap = chap or CHAP
    opts = ("driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1,initiator-name=%s,"
            "user=%s,password-secret=s0" % (portal, target, CLIENT, chap["username"]))
    return subprocess.Popen(["qemu-io", "--object", "secret,id=s0,data=%s" % chap["password"],
                             "--image-opts", opts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def qemu_io(portal, target, *cmds):
    argv = ["qemu-io", "--object", "secret,id=s0,data=%s" % CHAP["password"], "--image-opts",
            "driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1,initiator-name=%s,user=%s,"
            "password-secret=s0" % (portal, target, CLIENT, CHAP["username"])]
    for c in cmds:
        argv += ["-c", c]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def show(port, mode="target"):
    return subprocess.run(["tgtadm", "-C", str(port), "--lld", "iscsi", "--op", "show", "--mode",
                           mode], capture_output=True, text=True, check=True).stdout


def test_tgtd_killed_during_writes(daemons, tmp_path):
    port, portal = 61, "127.0.0.1:3271"
    tgtd = daemons(port, portal)
    a, b = disk(tmp_path / "a.img"), disk(tmp_path / "b.img")
    req = dict(control_port=port, config_dir=str(tmp_path / "conf.d"), portals=[portal], targets=[
        dict(name=iqn("k1"), luns=[dict(lun=1, path=a, serial="K1A")], initiators=[CLIENT],
             chap=dict(CHAP, mutual_username="faulttgt", mutual_password="fault-mutual-12")),
        dict(name=iqn("k2"), luns=[dict(lun=1, path=b, readonly=True)],
             initiator_addresses=["127.0.0.1"])])
    first = run_module("iscsi_target", req, tmp_path)
    assert first["changed"] and not first.get("failed"), first
    before = show(port), show(port, "account")

    # writes through a userspace initiator; tgtd is killed with -9 in the middle of them
    writer, acked = qemu_open(portal, iqn("k1")), []

    def write_loop():
        for i in range(200):
            try:
                writer.stdin.write("write -P %d %d 64k\n" % (i % 250 + 1, i * 65536))
                writer.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return
            line = writer.stdout.readline()
            while line and "wrote " not in line:
                if "error" in line.lower() or "failed" in line.lower():
                    return
                line = writer.stdout.readline()
            if not line:
                return
            acked.append(i)
    t = threading.Thread(target=write_loop, daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 20 and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.01)
    assert len(acked) >= 20, "qemu-io wrote nothing: %r" % writer.poll()
    os.kill(tgtd.proc.pid, signal.SIGKILL)
    tgtd.proc.wait()
    done = list(acked)
    stop(writer)
    t.join(10)
    assert len(acked) <= len(done) + 1          # at most the one in flight at the kill

    # a new tgtd on the same control port (its socket file was left behind) is empty
    tgtd.proc = None
    tgtd.start()
    assert tgtd.tids() == []
    again = run_module("iscsi_target", req, tmp_path)
    assert again["changed"] and not again.get("failed"), again
    after = show(port), show(port, "account")
    assert after == before
    for word in (iqn("k1"), iqn("k2"), a, b, CLIENT, "127.0.0.1", "faultuser",
                 "faulttgt (outgoing)", "K1A"):
        assert word in after[0] + after[1], word
    assert run_module("iscsi_target", req, tmp_path)["changed"] is False

    # every acknowledged write reads back, in the file and through iSCSI
    with open(a, "rb") as f:
        for i in done:
            f.seek(i * 65536)
            assert f.read(65536) == bytes([i % 250 + 1]) * 65536, "write %d lost" % i
    check = qemu_io(portal, iqn("k1"), *["read -P %d %d 64k" % (i % 250 + 1, i * 65536)
                                         for i in done[:8]])
    assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check


def test_two_runs_at_once(daemons, tmp_path):
    port, portal = 62, "127.0.0.1:3272"
    tgtd = daemons(port, portal)
    results = {}

    def run(n):
        (tmp_path / n).mkdir()
        results[n] = run_module("iscsi_target", dict(
            name=iqn(n), control_port=port, config_dir=str(tmp_path / "conf.d"),
            luns=[dict(lun=1, path=disk(tmp_path / (n + ".img")))], initiators=[CLIENT]),
            tmp_path / n)
    for rnd in range(3):
        names = ["r%da" % rnd, "r%db" % rnd]
        threads = [threading.Thread(target=run, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        for n in names:
            assert results[n]["changed"] and not results[n].get("failed"), results[n]
    assert sorted(tgtd.tids()) == [1, 2, 3, 4, 5, 6]

    # a run waits while another holds the lock of this control port
    with open("/run/lock/sanboot-tgtd-%d.lock" % port, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t = threading.Thread(target=run, args=("held",))
        t.start()
        time.sleep(3)
        assert t.is_alive() and iqn("held") not in tgtd.show()
    t.join(60)
    assert results["held"]["changed"] and iqn("held") in tgtd.show()


FAKE_TGTADM = """#!/bin/sh
# fails adding LUN 2, otherwise the real tgtadm
case " $* " in *" --mode logicalunit "*" --lun 2 "*) if [ "${*#*--op new}" != "$*" ]; then
  echo "tgtadm: this LUN cannot be added (fault test)" >&2; exit 22; fi;; esac
exec /usr/sbin/tgtadm "$@"
"""


def test_failed_lun_add_rolls_back(daemons, tmp_path):
    port, portal = 63, "127.0.0.1:3273"
    tgtd = daemons(port, portal)
    conf = str(tmp_path / "conf.d")
    seed = run_module("iscsi_target", dict(name=iqn("seed"), control_port=port, config_dir=conf,
                                           luns=[dict(lun=1, path=disk(tmp_path / "s.img"))],
                                           initiators=[CLIENT]), tmp_path)
    assert seed["changed"], seed
    before, files = show(port) + show(port, "account"), sorted(os.listdir(conf))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "tgtadm").write_text(FAKE_TGTADM)
    os.chmod(str(fake / "tgtadm"), 0o755)
    args = dict(name=iqn("half"), control_port=port, config_dir=conf, initiators=[CLIENT],
                chap=dict(CHAP), luns=[dict(lun=1, path=disk(tmp_path / "h1.img")),
                                       dict(lun=2, path=disk(tmp_path / "h2.img"))])
    proc = subprocess.run([command("ansible"), "localhost", "-vvv", "-m", "sanboot.lab.iscsi_target",
                           "-a", json.dumps(args)], env=ansible_env(path_prefix=[str(fake)]),
                          capture_output=True, text=True, cwd=ROOT, check=False)
    out = proc.stdout[proc.stdout.index("\n{") + 1:]          # -vvv text, then the JSON
    res = json.loads(out)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert "config file = " in proc.stdout                       # -vvv it was
    assert res.get("failed") and res["rc"] == 22, res
    assert "fault test" in res["stderr"] and "add LUN 2" in res["msg"] and "--lun" in res["cmd"]
    assert res["rolled_back"] == ["--op delete --mode logicalunit --tid 2 --lun 1",
                                  "--op delete --mode target --tid 2 --force",
                                  "--op delete --mode account --user faultuser"], res
    assert res["rollback_failed"] == []
    assert show(port) + show(port, "account") == before
    assert sorted(os.listdir(conf)) == files
    assert CHAP["password"] not in proc.stdout + proc.stderr      # -vvv, result and all
    # the same request without the fault converges
    assert run_module("iscsi_target", args, tmp_path)["changed"]
    assert "LUN: 2" in tgtd.show()


def test_read_only_switch_under_a_session_needs_force(daemons, tmp_path):
    port, portal = 64, "127.0.0.1:3274"
    daemons(port, portal)
    args = dict(name=iqn("ro"), control_port=port, config_dir=str(tmp_path / "conf.d"),
                luns=[dict(lun=1, path=disk(tmp_path / "ro.img"))], initiators=[CLIENT],
                chap=dict(CHAP))
    assert run_module("iscsi_target", args, tmp_path)["changed"]
    holder = qemu_open(portal, iqn("ro"))
    try:
        holder.stdin.write("read 0 512\n")
        holder.stdin.flush()
        assert "read 512/512" in holder.stdout.readline() + holder.stdout.readline()
        ro = dict(args, luns=[dict(args["luns"][0], readonly=True)])
        res = run_module("iscsi_target", ro, tmp_path)
        assert res.get("failed") and "luns[0].readonly" in res["msg"] and "force" in res["msg"], res
        assert "Readonly: No" in show(port)
        res = run_module("iscsi_target", dict(ro, force=True), tmp_path)
        assert res["changed"] and "set LUN 1 of %s read-only" % iqn("ro") in res["changes"]
    finally:
        stop(holder)


def test_hard_link_to_a_store_of_another_tgtd(daemons, tmp_path):
    other, mine = daemons(65, "127.0.0.1:3275"), daemons(64, "127.0.0.1:3274")
    store = disk(tmp_path / "shared.img")
    os.link(store, str(tmp_path / "hard.img"))
    other.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T",
                 iqn("elsewhere"))
    other.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun",
                 "1", "-b", store)
    res = run_module("iscsi_target", dict(name=iqn("mine"), control_port=64,
                                          config_dir=str(tmp_path / "conf.d"),
                                          luns=[dict(lun=1, path=str(tmp_path / "hard.img"))],
                                          allow_all=True), tmp_path)
    assert res.get("failed") and "tgtd control port 65" in res["msg"], res
    assert "the same file" in res["msg"] and mine.tids() == []


PROBE = """
import time
from ansible_collections.sanboot.lab.plugins.module_utils.common import _stores
for _ in range(400):
    assert 66 in _stores.tgtd_control_ports()
    time.sleep(0.005)
"""


def _sockets(pid):
    return sum(1 for fd in os.listdir("/proc/%d/fd" % pid)
               if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"))


def test_busy_tgtd_leaks_no_control_connection(daemons, tmp_path):
    """Reproduction of a lab tgtd stuck at 75-100 % CPU: tgt 1.0.85 takes read() = 0 on a control
    connection for "try again" when its main thread's errno is EAGAIN (it is serving I/O), so a
    connection closed without a whole request stays in its poll set for good and is polled
    forever.  The exporter probe of every run (iscsi_target, aoe_export, lvm_lun ask every
    socket.N whether a tgtd serves it) used to connect and close: one leak per run against a busy
    target.  Runs during reads must leave tgtd with the sockets it had."""
    port, portal = 66, "127.0.0.1:3276"
    tgtd = daemons(port, portal)
    conf = str(tmp_path / "conf.d")

    def target(name, size=16 * MIB):
        return dict(name=iqn(name), control_port=port, config_dir=conf, initiators=[CLIENT],
                    luns=[dict(lun=1, path=disk(tmp_path / (name + ".img"), size))])
    assert run_module("iscsi_target", target("busy", 64 * MIB), tmp_path)["changed"]
    before = _sockets(tgtd.proc.pid)
    reader = subprocess.Popen(
        ["qemu-io", "--image-opts", "driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1,"
         "initiator-name=%s" % (portal, iqn("busy"), CLIENT)], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        reader.stdin.write("read -q 0 32M\nwrite -q 0 8M\n" * 400)
        reader.stdin.flush()
        time.sleep(1)
        for n in range(3):      # a new LUN: each run asks every exporter about its store
            res = run_module("iscsi_target", target("other%d" % n), tmp_path)
            assert res["changed"] and not res.get("failed"), res
        # the probe those runs (and every aoe_export run) make, often enough to hit the window
        subprocess.run([sys.executable, "-c", PROBE], check=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=COLLECTIONS))
        assert reader.poll() is None, "qemu-io ended before the runs: nothing was read meanwhile"
    finally:
        stop(reader)            # the session ends with the process (tgtd sees the reset)
    time.sleep(1)
    assert _sockets(tgtd.proc.pid) == before
