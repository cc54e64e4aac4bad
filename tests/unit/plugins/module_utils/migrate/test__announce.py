# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""announce=at_switchover: the NICs of a live domain XML (the helper itself runs against a real
bridge in tests/integration/test_migrate_announce.py)."""

from __future__ import annotations

import os
import threading

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._announce import (
    SwitchoverAnnouncer, bridge_nics, parse_report, raise_priority,
)

fixture = fixture_reader("migrate")


LIVE = """<domain><devices>
  <interface type='bridge'><mac address='52:54:00:5b:00:3d'/><source bridge='br0'/>
    <target dev='vnet5'/><model type='virtio'/></interface>
  <interface type='network'><mac address='52:54:00:00:00:02'/>
    <source network='default' portid='0b6c' bridge='virbr0'/><target dev='vnet6'/></interface>
  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>
  <interface type='user'><mac address='52:54:00:00:00:04'/></interface>
  <interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eth0' mode='bridge'/>
    <target dev='macvtap0'/></interface>
</devices></domain>"""


def test_bridge_nics_of_a_running_domain():
    assert bridge_nics(LIVE) == [("52:54:00:5b:00:3d", "vnet5", "br0"),
                                 ("52:54:00:00:00:02", "vnet6", "virbr0"),
                                 ("52:54:00:00:00:01", None, "br0")]


def test_an_inactive_definition_has_no_taps():
    assert bridge_nics(fixture("libvirt_domain.xml")) == [("52:54:00:5a:10:01", None, "br0")]


def test_report_of_an_announced_move():
    lines = ["Warning: Permanently added '198.51.100.42'", "sched nice-20",
             "armed 52:54:00:5b:00:3d vnet4 br0 0",
             "udp 40000", "sent 1000.0125 udp"]
    report = parse_report({"mode": "at_switchover", "announced": False},
                          ["52:54:00:5b:00:3d"], 1000.0, lines)
    assert report == {"mode": "at_switchover", "announced": True, "armed": "1 of 1 NICs",
                      "announced_after_pause_ms": 12.5, "go_via": "udp",
                      "taps": {"52:54:00:5b:00:3d": "vnet4 in br0"}, "priority": {"helper": "nice-20"},
                      "errors": ["Warning: Permanently added '198.51.100.42'"]}


def test_report_of_a_pin_that_failed_and_a_pause_not_seen():
    report = parse_report({"announced": False}, ["52:54:00:00:00:01", "52:54:00:00:00:02"], None,
                          ["armed 52:54:00:00:00:01 vnet0 br0 0",
                           "armed 52:54:00:00:00:02 vnet1 br1 255"])
    assert report["armed"] == "1 of 2 NICs" and not report["announced"]
    assert report["errors"] == [
        "could not pin 52:54:00:00:00:02 to vnet1 in br1 (bridge fdb rc 255); QEMU's own "
        "announcement applies", "the source's pause was not seen"]


def test_a_helper_that_cannot_start_is_not_waited_for():
    announcer = SwitchoverAnnouncer(["false"])  # as an ssh that cannot log in
    announcer.start(["52:54:00:00:00:01"])
    assert not announcer.wait_ready(timeout=30)  # returns at the helper's end, not after 30 s
    report = announcer.finish()
    assert report["armed"] == "0 of 1 NICs" and not report["announced"]


def test_raise_priority_names_what_the_thread_got():
    """Real-time where the kernel lets this process have it, else nice -20 (root), else nothing."""
    got = []
    thread = threading.Thread(target=lambda: got.append((raise_priority(), os.sched_getscheduler(0),
                                                         os.getpriority(os.PRIO_PROCESS, 0))))
    thread.start()
    thread.join()
    name, policy, nice = got[0]
    assert name in ("fifo", "nice-20", "normal")
    assert (policy == os.SCHED_FIFO) == (name == "fifo")
    assert name != "nice-20" or nice == -20
    # only that thread: this one is unchanged
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
