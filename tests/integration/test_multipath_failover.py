# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dm-multipath over the lab's two storage networks survives losing either path under load.

The controller's kernel has no initiator and no device-mapper: the kernel testbed (QEMU, Debian's
kernel) logs in with two NICs, one per storage network (sanbr0 198.51.100.30, sanbr1
198.51.100.158), to a throwaway tgtd on the controller with a portal on each (198.51.100.1 and
198.51.100.129, port 3262; never the lab's 3260). See _multipath.py for the picture.

1. The roles iscsi_initiator (module iscsi_initiator, multipath profile) and multipath log in
   over both portals: both sessions, one map with two active paths, ext4 on /dev/mapper/sbmpath mounted.
2. fio (crc32c verify, verify_backlog) writes and verifies through the map while the host side of
   path A's tap leaves its bridge for longer than the path timeout and comes back, then path B's: fio exits
   0 without a verify failure, the kernel logs no I/O error on the map, both paths end active. The
   stall of each failover (longest I/O latency) is printed, not asserted: bench/multipath_failover.py
   records it.
3. Re-running the roles iscsi_initiator + multipath (module iscsi_initiator) changes nothing.

Everything is undone afterwards, also on failure: map flushed, sessions logged out, node and
discovery records deleted, multipath.conf removed, tgtd stopped, taps back in their bridges. About 4-5 minutes.
"""

from __future__ import annotations

import re

import pytest

from _multipath import PATHS, Rig, failover_sequence, map_io_errors  # noqa: E402

pytestmark = pytest.mark.integration

CONTROL, PORT = 88, 3262
IQN = "iqn.2024-01.lab.sanboot.test:multipath-failover"
ALIAS = "sbmpath"
MARGIN = 6                         # each outage: the path timeout (replacement + noop + checker) + 6 s


@pytest.fixture(scope="module")
def rig(testbed, tmp_path_factory):  # noqa: F811
    addresses = testbed.run("ip -4 -o addr show").stdout
    if "%s/" % PATHS[1][1] not in addresses:
        pytest.fail("the testbed has no NIC on the second storage network (%s): it was started before "
                    "testbed_extra_networks existed; restart it with playbooks/testbed_down.yml and "
                    "playbooks/testbed_up.yml\n%s" % (PATHS[1][1], addresses))
    bed = Rig(testbed, str(tmp_path_factory.mktemp("multipath")), CONTROL, PORT, IQN, ALIAS)
    try:
        bed.start_target()
        bed.first_recap = bed.login()
        bed.make_filesystem()
        yield bed
    finally:
        bed.cleanup()


def test_two_active_paths_to_one_map(rig):
    paths = rig.paths()
    assert len(paths) == 2, paths
    assert {p["dev"] for p in paths} == {rig.path_device(p) for p in rig.portals}
    assert all(p["dm_state"] == "active" and p["checker"] == "ready" for p in paths), paths
    maps = rig.bed.run("multipathd show maps raw format '%w %n'").stdout.split("\n")
    assert [m.split()[1] for m in maps if m.startswith(rig.wwid)] == [ALIAS]
    sessions = rig.bed.run("iscsiadm -m session").stdout
    for portal in rig.portals:
        assert "%s,1 %s" % (portal, IQN) in sessions, sessions


def test_filesystem_on_the_map_is_mounted(rig):
    assert rig.bed.run("findmnt -no SOURCE /mnt/%s" % ALIAS).stdout.strip() == "/dev/mapper/%s" % ALIAS
    rig.bed.run("echo multipath > /mnt/%s/hello && sync && grep -q multipath /mnt/%s/hello" % (ALIAS, ALIAS))


def test_fio_verifies_through_the_map_while_each_path_fails(rig):
    outage = rig.path_timeout() + MARGIN
    result = failover_sequence(rig, outage=outage)
    fio = result["fio"]
    for ev in result["failovers"]:
        print("failover path %(path)s (%(tap)s cut %(outage_s).1f s): stall %(max_latency_s).2f s, "
              "longest completion gap %(max_gap_s).2f s, both paths active %(recovered_s).1f s after link up" % ev)
    assert result["under_load"], "fio (%d s) ended before both paths were back: %s" % (
        result["runtime"], result["failovers"])
    assert fio["rc"] == 0, fio["stderr"]
    assert fio["json"] is not None, fio["stderr"]
    job = fio["json"]["jobs"][0]
    assert job["error"] == 0, job
    assert not re.search(r"verify failed|verify: |bad magic", fio["stderr"]), fio["stderr"]
    assert job["write"]["io_bytes"] > 0
    assert all(ev["outage_s"] >= outage for ev in result["failovers"])
    assert map_io_errors(rig.bed, ALIAS) == []
    paths = rig.paths()
    assert len(paths) == 2 and all(p["dm_state"] == "active" and p["checker"] == "ready" for p in paths), paths
    rig.bed.run("umount /mnt/%s && fsck.ext4 -fn /dev/mapper/%s && mount /dev/mapper/%s /mnt/%s"
                % (ALIAS, ALIAS, ALIAS, ALIAS))


def test_rerun_of_roles_and_module_changes_nothing(rig):
    stats = rig.rerun_roles()
    assert stats["changed"] == 0 and stats["failures"] == 0, (stats, rig.changed_tasks())
    assert len(rig.paths()) == 2
