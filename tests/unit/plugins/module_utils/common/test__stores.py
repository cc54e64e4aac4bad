"""Unit tests for _stores: one store identity, every exporter asked (fake /proc, fake sockets,
captured tgt 1.0.85 output), loud failure when one cannot be asked."""

import os
import socket
import subprocess
import sys

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.common import _stores
from ansible_collections.sanboot.lab.plugins.module_utils.common._stores import StoreError

fixture = fixture_reader()
T1, T3 = "iqn.2024-01.lab.sanboot:t1", "iqn.2024-01.lab.sanboot:t3"


def test_store_id_follows_links(tmp_path):
    store = tmp_path / "a.img"
    store.write_bytes(b"x")
    os.link(str(store), str(tmp_path / "hard.img"))
    (tmp_path / "sym.img").symlink_to(store)
    ids = set(_stores.store_id(str(tmp_path / n)) for n in ("a.img", "hard.img", "sym.img"))
    st = os.stat(str(store))
    assert ids == {(st.st_dev, st.st_ino)}
    assert _stores.store_id(str(tmp_path / "missing.img")) is None
    assert _stores.store_id("") is None and _stores.store_id("/a\0b") is None


def test_store_id_of_a_block_device_is_its_device_number():
    for path in ("/dev/vda", "/dev/sda", "/dev/loop0"):
        if os.path.exists(path):
            assert _stores.store_id(path) == ("blk", os.stat(path).st_rdev)
            break


def test_parse_tgt_luns():
    luns = _stores.parse_tgt_luns(fixture("tgt_show_target.txt"))
    assert luns[0] == dict(tid=1, target=T1, lun=1, path="/tmp/htgt/a.img", readonly=False)
    assert luns[1] == dict(tid=1, target=T1, lun=2, path="/tmp/htgt/b.img", readonly=True)
    assert [(x["target"], x["lun"]) for x in luns][2:] == [(T3, 1), (T3, 2)]


_HOLD = ("import fcntl, sys, time\n"
         "f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX, 1)\n"
         "print('locked', flush=True); time.sleep(120)\n")


@pytest.fixture
def run_dir(tmp_path):
    """socket.61 is served (its lock held by another process, as tgtd holds it), socket.62 and its
    lock were left by a killed tgtd, socket.63.lock is not a socket, socket.65 neither listens nor
    has a lock."""
    d = tmp_path / "tgtd"
    d.mkdir()
    live = socket.socket(socket.AF_UNIX)
    live.bind(str(d / "socket.61"))
    live.listen(1)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(d / "socket.61.lock")],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(d / "socket.62"))
    dead.close()
    (d / "socket.62.lock").write_text("")
    (d / "socket.63.lock").write_text("")
    bound = socket.socket(socket.AF_UNIX)
    bound.bind(str(d / "socket.65"))
    yield str(d)
    holder.kill()
    holder.wait()
    for s in (live, bound):
        s.close()


@pytest.fixture
def nolock(run_dir):
    """socket.64 listens without a lock file (another tgt version: /proc/net/unix tells)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(run_dir, "socket.64"))
    sock.listen(1)
    yield run_dir
    sock.close()


def test_control_ports_only_live_sockets(run_dir, tmp_path):
    assert _stores.tgtd_control_ports(run_dir) == [61]
    assert _stores.tgtd_control_ports(str(tmp_path / "none")) == []


def test_control_ports_never_connect(nolock, monkeypatch):
    """tgt 1.0.85 leaks (and spins on) a control connection closed without a request."""
    def refuse(*_args):
        raise AssertionError("the probe connected to a tgtd control socket")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert _stores.tgtd_control_ports(nolock) == [61, 64]


def test_unreadable_proc_net_unix_fails_loudly(nolock, tmp_path):
    with pytest.raises(StoreError, match="cannot read"):
        _stores._listening(os.path.join(nolock, "socket.64"), str(tmp_path / "no-net-unix"))


class Run(object):
    def __init__(self, **answers):
        self.answers, self.calls = answers, []

    def __call__(self, argv):
        self.calls.append(argv)
        return self.answers[argv[2]]


def make_proc(tmp_path, cmdlines):
    proc = tmp_path / "proc"
    for pid, argv in cmdlines.items():
        d = proc / str(pid)
        d.mkdir(parents=True)
        (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
        (d / "root").symlink_to("/")
        (d / "cwd").symlink_to(str(tmp_path))
    (proc / "self").mkdir(parents=True, exist_ok=True)
    return str(proc)


def test_vblade_argv():
    p = _stores.parse_vblade_argv
    assert p(["vblade", "1", "2", "eth0", "/a"]) == dict(shelf=1, slot=2, interface="eth0",
                                                         path="/a", readonly=False)
    assert p(["/usr/sbin/vblade", "-m", "52:54:00:00:00:01", "-r", "-d", "-s", "3", "4", "br0",
              "/b"])["readonly"] is True
    assert p(["vblade", "-drs", "-b", "16", "3", "4", "br0", "/b"])["readonly"] is True
    assert p(["vblade", "-mAA:BB:CC:DD:EE:FF", "3", "4", "br0", "/b"])["shelf"] == 3
    assert p(["vblade", "-x", "3", "4", "br0", "/b"]) is None
    assert p(["vblade", "3", "4", "br0"]) is None
    assert p(["vbladed", "3", "4", "br0", "/b"]) is None
    assert p(["vblade", "a", "4", "br0", "/b"]) is None


def test_exports_of_asks_every_exporter(tmp_path, run_dir):
    store = tmp_path / "a.img"
    store.write_bytes(b"")
    os.link(str(store), str(tmp_path / "hard.img"))
    (tmp_path / "other.img").write_bytes(b"")
    show = fixture("tgt_show_target.txt").replace("/tmp/htgt/a.img", str(tmp_path / "hard.img"))
    proc = make_proc(tmp_path, {
        100: ["vblade", "-r", "1", "2", "veth0", str(store)],
        101: ["vblade", "1", "3", "veth0", "a.img"],           # relative to its cwd
        102: ["vblade", "1", "4", "veth0", str(tmp_path / "other.img")],
        103: ["sleep", "1000"]})
    run = Run(**{"61": (0, show, "")})
    found = _stores.exports_of(str(tmp_path / "a.img"), run, "/usr/sbin/tgtadm",
                               run_dir=run_dir, proc=proc)
    assert [(e["kind"], e.get("target") or e.get("pid"), e["lun"] if "lun" in e else e["slot"],
             e["readonly"]) for e in found] == [
        ("tgt", T1, 1, False), ("tgt", T3, 1, False), ("vblade", 100, 2, True),
        ("vblade", 101, 3, False)]
    assert run.calls == [["/usr/sbin/tgtadm", "-C", "61", "--lld", "iscsi", "--op", "show",
                          "--mode", "target"]]
    assert _stores.describe(found[0]) == "iSCSI target %s LUN 1 (tgtd control port 61)" % T1
    assert _stores.describe(found[2]) == "AoE export e1.2 on veth0 (vblade pid 100, read-only)"
    # the control port the caller reads itself is skipped; a missing path has no exports
    assert len(_stores.exports_of(str(store), run, None, run_dir, proc, skip_ports=[61])) == 2
    assert _stores.exports_of(str(tmp_path / "gone.img"), run, None, run_dir, proc) == []


def test_cannot_tell_fails_loudly(tmp_path, run_dir):
    store = tmp_path / "a.img"
    store.write_bytes(b"")
    proc = make_proc(tmp_path, {})
    with pytest.raises(StoreError, match="control port 61.*rc 107.*not connected"):
        _stores.exports_of(str(store), Run(**{"61": (107, "", "not connected")}), "tgtadm",
                           run_dir=run_dir, proc=proc)
    with pytest.raises(StoreError, match="tgtadm is not installed"):
        _stores.exports_of(str(store), Run(), None, run_dir=run_dir, proc=proc)
    with pytest.raises(StoreError, match="cannot list processes"):
        _stores.exports_of(str(store), Run(), None, run_dir=str(tmp_path / "x"),
                           proc=str(tmp_path / "noproc"))


def test_a_tgtd_that_stops_while_asked_is_left_out(tmp_path, run_dir):
    """A tgtd listed as listening may stop before tgtadm asks it (another tool's stop, a test's
    teardown): once its socket is gone it serves no store, and the question goes on."""
    store = tmp_path / "a.img"
    store.write_bytes(b"")

    class Stopping(Run):
        def __call__(self, argv):
            os.unlink(os.path.join(run_dir, "socket.61"))
            return super(Stopping, self).__call__(argv)

    run = Stopping(**{"61": (107, "", "tgtadm: can't connect to the tgt daemon")})
    assert _stores.exports_of(str(store), run, "tgtadm", run_dir=run_dir, proc=make_proc(tmp_path, {})) == []
    assert len(run.calls) == 1


def test_store_key_of_a_store_that_does_not_exist_yet(tmp_path):
    store = tmp_path / "a.img"
    (tmp_path / "link").symlink_to(tmp_path)
    assert _stores.store_key(str(tmp_path / "link" / "a.img")) == _stores.store_key(str(store)) \
        == ("path", os.path.realpath(str(store)))
    store.write_bytes(b"")
    assert _stores.store_key(str(tmp_path / "link" / "a.img")) == _stores.store_id(str(store))


def test_strict_store_id_fails_when_a_store_cannot_be_looked_at(tmp_path, monkeypatch):
    def denied(path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "stat", denied)
    assert _stores.store_id("/srv/a.img") is None
    with pytest.raises(StoreError, match="cannot identify the store /srv/a.img.*Permission denied"):
        _stores.store_id("/srv/a.img", strict=True)


def test_vblade_whose_cwd_cannot_be_read_fails_loudly(tmp_path):
    proc = make_proc(tmp_path, {101: ["vblade", "1", "3", "veth0", "a.img"]})
    os.unlink(os.path.join(proc, "101", "cwd"))
    os.mkdir(os.path.join(proc, "101", "cwd"))              # readlink: EINVAL, not "gone"
    with pytest.raises(StoreError, match="cannot read .*101/cwd"):
        _stores.vblade_exports(proc)
    os.rmdir(os.path.join(proc, "101", "cwd"))               # the process ended meanwhile
    assert _stores.vblade_exports(proc) == []


def test_unreadable_command_line_fails_loudly(tmp_path):
    proc = make_proc(tmp_path, {})
    os.makedirs(os.path.join(proc, "200", "cmdline"))      # EISDIR: neither readable nor "gone"
    with pytest.raises(StoreError, match="command line of process 200"):
        _stores.vblade_exports(proc)
