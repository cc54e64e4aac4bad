# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/migration_time.py and bench/_procstat.py without the lab: the CPU timeline of a move
from synthetic samples, the lost pings, the summary row and its plot."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _plot, _procstat, migration_time  # noqa: E402  pylint: disable=wrong-import-position

SRC, DST = 100, 200


def sample(t, busy, procs):
    return (t, busy, t * 200, procs)


def test_thread_kinds():
    assert _procstat.thread_kind("CPU 0/TCG") == "vcpu"
    assert _procstat.thread_kind("live_migration") == "migration"
    assert _procstat.thread_kind("mig/src/send_1") == "migration"
    assert _procstat.thread_kind("multifdsend_0") == "migration"
    assert _procstat.thread_kind("IO mon_iothread") == "other"


def test_summary_timeline_and_cpu():
    hz = _procstat.HZ
    src = "sanboot-hv1-1"
    samples = [
        sample(0.0, 0, {SRC: (src, {"CPU 0/TCG": 1000})}),
        sample(1.0, 100, {SRC: (src, {"CPU 0/TCG": 1000 + hz // 2}),
                          DST: ("sanboot-hv2-1", {"qemu-system-x86": 0})}),
        sample(1.5, 150, {SRC: (src, {"CPU 0/TCG": 1000 + hz, "mig/src/main": 0}),
                          DST: ("sanboot-hv2-1", {"qemu-system-x86": hz // 2})}),
        # the migration thread ended before the last reading of the source: its last value counts
        sample(2.5, 300, {SRC: (src, {"CPU 0/TCG": 1000 + 2 * hz}),
                          DST: ("sanboot-hv2-1", {"qemu-system-x86": hz})}),
        sample(2.4, 290, {SRC: (src, {"CPU 0/TCG": 1000 + 2 * hz, "mig/src/main": hz})}),
        sample(3.0, 400, {DST: ("sanboot-hv2-1", {"qemu-system-x86": 2 * hz, "CPU 0/TCG": 5})}),
        sample(3.5, 450, {DST: ("sanboot-hv2-1", {"qemu-system-x86": 9 * hz})}),
    ]
    samples.sort(key=lambda s: s[0])
    out = _procstat.summary(samples, "-hv1-")
    assert out["window_ms"] == 2000 and out["prepare_ms"] == 500 and out["copy_ms"] == 1500
    assert out["src_migration_pct"] == 50.0 and out["src_vcpu_pct"] == 75.0
    assert out["dst_pct"] == round(100.0 * (2 * hz + 5) / (2 * hz), 1)  # nothing after the end
    assert out["machine_busy_pct"] == round(100.0 * 300 / 400, 1)
    assert _procstat.summary(samples, "-hv9-") is None


def test_lost_pings_leave_out_the_last_probe():
    text = ("[1.0] 64 bytes from a: icmp_seq=1 ttl=64 time=1 ms\n"
            "[1.2] 64 bytes from a: icmp_seq=3 ttl=64 time=1 ms\n"
            "4 packets transmitted, 2 received, 50% packet loss\n")
    ping, lost = migration_time.lost_pings(text)
    assert ping["lost"] == 2 and lost == 1


def test_summary_row_goal_and_plot(tmp_path):
    def one(total, down, lost=0):
        return {"failed": False, "total_ms": total, "downtime_ms": down, "lost_pings": lost,
                "transferred_bytes": 300 << 20, "memory_iteration": 3, "longest_gap_ms": 110}
    fast = migration_time.summarise("fast", {}, [one(1000, 20), one(1100, 25), one(1900, 90)])
    lossy = migration_time.summarise("lossy", {}, [one(1000, 20, lost=1)])
    slow = migration_time.summarise("slow", {}, [one(1500, 20)])
    assert (fast["goal"], lossy["goal"], slow["goal"]) == ("yes", "no", "no")
    assert fast["total_med_ms"] == 1100 and fast["sent_mib"] == 300 and fast["passes_max"] == 3
    path = str(tmp_path / "t.png")
    assert _plot.plot({"benchmark": "migration_time", "results": [fast, lossy, slow]}, path) == path
