# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vblade killed with SIGKILL while an initiator writes: aoe_export notices and starts it again.

A veth pair ``sbi-f0`` (vblade) / ``sbi-f1`` (the project's AF_PACKET client, ``_protocol.AoEClient``)
in the root namespace, created here and deleted at the end.  The export runs under the
``process`` supervisor (setsid'd vblade with a pidfile; this host has no systemd as PID 1).
Sectors are written, the vblade is killed with ``kill -9`` while the writes go on, and the same
``aoe_export`` request is run again: the pidfile is stale, the export is started again
(changed), every acknowledged sector reads back intact, and a further run changes nothing.
Only vblade pids reported by the module are killed (by pid).  Shelf 43 belongs to this file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from _ansible import run_module  # noqa: E402  pylint: disable=import-error

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol

pytestmark = pytest.mark.integration

IF_T, IF_C = "sbi-f0", "sbi-f1"
SHELF, SLOT = 43, 1
RUN_DIR = "/run/sanboot-vblade"
SIZE = 4 * 1024 * 1024


def is_vblade(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0]) == b"vblade"
    except OSError:
        return False


@pytest.fixture
def lab(tmp_path):
    assert os.geteuid() == 0, "needs root (links, raw sockets)"
    pids = set()
    subprocess.run(["ip", "link", "add", IF_T, "type", "veth", "peer", "name", IF_C], check=True)
    try:
        for name in (IF_T, IF_C):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield pids
    finally:
        for pid in pids:
            if is_vblade(pid):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "link", "del", IF_T], check=False)
        for name in os.listdir(RUN_DIR) if os.path.isdir(RUN_DIR) else []:
            if name.startswith("e%d." % SHELF):
                os.unlink(os.path.join(RUN_DIR, name))


def test_killed_vblade_is_noticed_and_restarted_with_acknowledged_writes_intact(lab, tmp_path):
    disk = tmp_path / "disk.img"
    with open(str(disk), "wb") as f:
        f.truncate(SIZE)
    args = dict(shelf=SHELF, slot=SLOT, interface=IF_T, path=str(disk), supervisor="process")

    first = run_module("aoe_export", args, tmp_path)
    assert first["changed"] and not first.get("failed"), first
    lab.add(first["pid"])
    pidfile = os.path.join(RUN_DIR, "e%d.%d.pid" % (SHELF, SLOT))
    assert open(pidfile).read().strip() == str(first["pid"])

    acked = {}
    with _protocol.AoEClient(IF_C, timeout=0.3, retries=2) as client:
        deadline = time.monotonic() + 10
        targets = []
        while not targets and time.monotonic() < deadline:
            targets = client.discover(SHELF, SLOT)
        assert targets, "vblade did not answer"
        target = targets[0]
        for lba in range(0, 40, 2):                       # before the kill
            data = os.urandom(1024)
            client.write(target, lba, data)
            acked[lba] = data
        killer = threading.Timer(0.05, os.kill, (first["pid"], signal.SIGKILL))
        killer.start()
        lba, refused = 100, None
        while lba < 4000:                                 # during the kill, until writes fail
            data = os.urandom(1024)
            try:
                client.write(target, lba, data)
            except _protocol.AoEError as exc:
                refused = exc
                break
            acked[lba] = data
            lba += 2
        killer.join()
    assert refused is not None, "writes went on after the vblade was killed"
    deadline = time.monotonic() + 5
    while is_vblade(first["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_vblade(first["pid"])
    assert os.path.exists(pidfile)                        # stale: vblade is gone, the file stayed

    second = run_module("aoe_export", args, tmp_path)
    assert second["changed"] and not second.get("failed"), second
    lab.add(second["pid"])
    assert second["pid"] != first["pid"] and is_vblade(second["pid"])
    assert any("stale pidfile" in c for c in second["changes"]), second["changes"]
    assert any(c.startswith("start vblade") for c in second["changes"]), second["changes"]
    assert open(pidfile).read().strip() == str(second["pid"])

    with _protocol.AoEClient(IF_C, timeout=0.5, retries=3) as client:
        target = client.discover(SHELF, SLOT)[0]
        for lba, data in sorted(acked.items()):
            assert client.read(target, lba, 2) == data, "acknowledged sectors %d-%d lost" % (lba, lba + 1)
    with open(str(disk), "rb") as f:
        for lba, data in sorted(acked.items()):
            f.seek(lba * 512)
            assert f.read(1024) == data

    third = run_module("aoe_export", args, tmp_path)
    assert not third["changed"] and third["changes"] == [] and third["pid"] == second["pid"], third
