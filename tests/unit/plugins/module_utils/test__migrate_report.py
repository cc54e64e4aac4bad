# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ping -D parsing, sequence checks and the migration table (no processes)."""

from __future__ import annotations

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils import _migrate_report as r

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
