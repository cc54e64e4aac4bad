# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ping -D parsing, sequence checks and the migration table (no processes)."""

from __future__ import annotations

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _report as r

PING_OK = """PING 198.51.100.61 (198.51.100.61) 56(84) bytes of data.
[1763705000.000100] 64 bytes from 198.51.100.61: icmp_seq=1 ttl=64 time=0.512 ms
[1763705000.100200] 64 bytes from 198.51.100.61: icmp_seq=2 ttl=64 time=0.498 ms
[1763705000.260300] 64 bytes from 198.51.100.61: icmp_seq=3 ttl=64 time=60.1 ms
[1763705000.300400] 64 bytes from 198.51.100.61: icmp_seq=4 ttl=64 time=0.401 ms

--- 198.51.100.61 ping statistics ---
4 packets transmitted, 4 received, 0% packet loss, time 300ms
rtt min/avg/max/mdev = 0.401/15.3/60.1/25.9 ms
"""

PING_LOSS = """[1763705000.000000] 64 bytes from 198.51.100.61: icmp_seq=1 ttl=64 time=0.5 ms
[1763705000.400000] 64 bytes from 198.51.100.61: icmp_seq=5 ttl=64 time=0.5 ms
--- 198.51.100.61 ping statistics ---
5 packets transmitted, 2 received, 60% packet loss, time 400ms
"""


def test_ping_without_loss():
    s = r.ping_stats(PING_OK)
    assert (s["transmitted"], s["received"], s["lost"], s["missing"]) == (4, 4, 0, [])
    assert s["longest_gap_ms"] == 160


def test_ping_with_loss_and_gaps():
    s = r.ping_stats(PING_LOSS)
    assert (s["lost"], s["missing"], s["longest_gap_ms"]) == (3, [2, 3, 4], 400)


PING_UNREACHABLE = """[1763705000.000000] 64 bytes from 198.51.100.64: icmp_seq=1 ttl=64 time=0.5 ms
[1763705003.100000] From 198.51.100.20 icmp_seq=2 Destination Host Unreachable
[1763705003.100100] From 198.51.100.20 icmp_seq=3 Destination Host Unreachable
[1763705040.000000] 64 bytes from 198.51.100.64: icmp_seq=4 ttl=64 time=0.5 ms
--- 198.51.100.64 ping statistics ---
4 packets transmitted, 2 received, +2 errors, 50% packet loss, time 40000ms
"""


def test_ping_unreachable_lines_are_not_replies():
    """A long outage (a cold move): ping reports 'Destination Host Unreachable' with icmp_seq."""
    s = r.ping_stats(PING_UNREACHABLE)
    assert (s["lost"], s["missing"], s["replies"]) == (2, [2, 3], 2)
    assert s["longest_gap_ms"] == 40000


def test_ping_lost_counts_unanswered_seqs_when_larger():
    text = PING_LOSS.replace("5 packets transmitted, 2 received", "5 packets transmitted, 4 received")
    assert r.ping_stats(text)["lost"] == 3


def test_ping_not_finished():
    with pytest.raises(r.ReportError, match="did not finish"):
        r.ping_stats(PING_LOSS.splitlines()[0])


def test_sequence():
    good = "1 10.0\n2 10.1\n3 10.35\n"
    s = r.sequence_stats(good)
    assert s["ok"] and s["count"] == 3 and s["longest_write_gap_ms"] == 250
    bad = r.sequence_stats("1 1.0\n2 1.1\n4 1.2\n4 1.3\n")
    assert not bad["ok"] and bad["missing"] == [3] and bad["repeated"] == 1
    with pytest.raises(r.ReportError, match="line 2"):
        r.sequence_stats("1\nx\n")
    with pytest.raises(r.ReportError, match="empty"):
        r.sequence_stats("\n")


def test_report_and_table():
    result = {"changed": True, "total_time_ms": 812, "downtime_ms": 41,
              "transferred_bytes": 3 * 1048576 + 1048576 // 2}
    announced = dict(result, stats={"announce": {"announced": True,
                                                 "announced_after_pause_ms": 0.7}})
    out = r.report([{"direction": "hv1 -> hv2", "result": result, "ping": PING_OK},
                    {"direction": "hv2 -> hv1", "result": announced, "ping": PING_LOSS}],
                   sequence="1 1.0\n2 1.1\n", sequence_on_lun="1 1.0\n2 1.1\n")
    assert out["lost_pings"] == 3 and not out["ok"] and out["lun_matches"]
    lines = out["table"].splitlines()
    assert lines[0].split(" | ")[0].strip() == "direction"
    assert "hv1 -> hv2 |" in lines[2] and "3.5 MiB" in lines[2]
    assert lines[2].split("|")[5].strip() == "160" and lines[2].endswith(" -")
    assert lines[3].split("|")[4].strip() == "3" and lines[3].endswith(" 0.7")
    clean = r.report([{"direction": "a", "result": result, "ping": PING_OK}], "1 1\n2 2\n", "1 1\n")
    assert not clean["ok"] and clean["lun_matches"] is False
    assert r.report([{"direction": "a", "result": result, "ping": PING_OK}])["ok"]


def test_human_bytes():
    assert [r.human_bytes(v) for v in (None, 12, 2048, 5 << 30)] == ["-", "12 B", "2.0 KiB", "5.0 GiB"]


PANIC_LOG = """[   41.120] general protection fault, probably for non-canonical address 0x1d5b2c8f00a4c3ff: 0000 [#1] PREEMPT SMP NOPTI
[   41.121] RIP: 0010:kmem_cache_alloc_bulk+0xca/0x2f0
[   41.125] Kernel panic - not syncing: Fatal exception in interrupt
[   50.000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:0]
[   51.000] WARNING: CPU: 0 PID: 1 at kernel/foo.c:1 bar+0x1/0x2
[   52.000] virtio_net virtio0 eth0: link up
"""


def test_kernel_problems_kinds():
    kinds = [p["kind"] for p in r.kernel_problems(PANIC_LOG)]
    assert kinds == ["oops", "panic", "lockup", "warning"]
    assert r.kernel_problems("") == []
    assert r.kernel_problems(None) == []


def _move(**extra):
    ping = "[1.0] 64 bytes from x: icmp_seq=1 ttl=64 time=1 ms\n1 packets transmitted, 1 received, 0% packet loss"
    return dict({"direction": "hv1 -> hv2", "result": {"downtime_ms": 20}, "ping": ping}, **extra)


def test_report_memory_and_kernel_log_fail_the_move():
    good = {"ok": True, "pages": 65536, "checked": 65536, "bad_count": 0, "bad": []}
    bad = {"ok": False, "pages": 65536, "checked": 65536, "bad_count": 3,
           "bad": [{"page": 7, "pfn": 0x1234, "offset": 16, "found": "00", "expected": "11"}]}
    out = r.report([_move(memory=good, kernel_log="[1.0] ok\n")])
    assert out["ok"] and out["guest_ok"]
    assert out["rows"][0]["memory"] == "ok (256 MiB)" and out["rows"][0]["kernel"] == "ok"
    assert "memory" in out["table"] and "kernel log" in out["table"]
    out = r.report([_move(memory=bad, kernel_log="")])
    assert not out["ok"] and not out["guest_ok"]
    assert out["rows"][0]["memory"] == "3 bad pages: 7 (pfn 0x1234)"
    assert out["rows"][0]["memory_bad_pages"][0]["page"] == 7
    out = r.report([_move(memory=good, kernel_log=PANIC_LOG)])
    assert not out["guest_ok"] and out["rows"][0]["kernel"] == "lockup, oops, panic"
    out = r.report([_move(kernel_log="[1.0] WARNING: CPU: 0 PID: 1 at x\n")])
    assert out["guest_ok"] and out["rows"][0]["kernel_problems"][0]["kind"] == "warning"
    assert "memory" not in r.report([_move()])["table"]
