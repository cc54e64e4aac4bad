# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/_plot.py: the PNG next to a benchmark's JSON (written by bench/_common.py's Run.report)."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _common, _plot  # noqa: E402  pylint: disable=wrong-import-position

PNG = b"\x89PNG\r\n\x1a\n"


def header(path):
    with open(path, "rb") as f:
        return f.read(8)


def test_migration_moves_plot(tmp_path):
    data = {"benchmark": "migration_stress", "params": {"config": "lab"},
            "moves": [{"downtime_ms": 17, "lost_pings": 0}, {"downtime_ms": 243, "lost_pings": 2},
                      {"downtime_ms": None, "lost_pings": None}]}
    assert _plot.plot(data, str(tmp_path / "m.png")) == str(tmp_path / "m.png")
    assert header(tmp_path / "m.png") == PNG


def test_announce_netboot_and_scale_plots(tmp_path):
    cases = {
        "migration_announce": {"results": [{"announce": "on_resume", "moves_detail": [{"downtime": 20, "lost": 1}]},
                                           {"announce": "at_switchover", "moves_detail": [{"downtime": 30, "lost": 0}]}]},
        "netboot_time": {"raw": {"guest1": [{"hypervisor": "hv1", "ssh_s": 59.6}, {"hypervisor": "hv1", "ssh_s": 61.2}],
                                 "guest3": [{"hypervisor": "hv1", "ssh_s": 61.5}]}},
        "iscsi_target_scale": {"params": {"targets": 50, "luns_per_target": 4},
                               "results": [{"step": "converge", "tool": "iscsi_target", "seconds": 4.2},
                                           {"step": "no-op second run", "tool": "iscsi_target", "seconds": 1.1}]},
        "datapath_wire": {"results": [
            {"mtu": m, "link": link, "config": c, "path": p, "tool": t, "direction": d, "mb_per_s": v}
            for m in (1500, 9000) for link in ("veth", "1gbit")
            for c, p, t, d, v in (("-", "TCP", "iperf3", "read", 900), ("stock", "iSCSI", "iscsi-perf", "read", 500),
                                  ("stock", "AoE", "read_windowed (16 in flight)", "read", 300))]},
    }
    for name, data in cases.items():
        path = str(tmp_path / (name + ".png"))
        assert _plot.plot(dict(data, benchmark=name), path) == path, name
        assert header(path) == PNG, name


def test_no_series_no_plot_and_a_failure_is_only_a_note(tmp_path, capsys):
    assert _plot.plot({"benchmark": "tgt_throughput", "results": [{"mib_s": 1}]}, str(tmp_path / "t.png")) is None
    assert not os.path.exists(tmp_path / "t.png")
    # a series the plot cannot draw: Run.report's helper prints a note and returns
    _common.write_plot({"benchmark": "netboot_time", "raw": {"guest1": "not a list"}}, str(tmp_path / "n.png"))
    assert "note: no plot" in capsys.readouterr().out


def test_make_test_and_lab_rerun_plots(tmp_path):
    make = {"benchmark": "make_test", "results": [
        {"suite": "make test (wall clock)", "start_s": 0.0, "end_s": 900.0, "s": 900.0, "status": 0},
        {"suite": "unit", "start_s": 5.0, "end_s": 25.0, "s": 20.0, "status": 0},
        {"suite": "sanity", "start_s": 30.0, "end_s": 120.0, "s": 90.0, "status": 2}]}
    assert _plot.plot(make, str(tmp_path / "t.png")) == str(tmp_path / "t.png")
    lab = {"benchmark": "lab_rerun", "raw": [
        {"kind": "fresh", "wall_s": 491.0, "changed": 120, "plays": [["Build", 25.7], ["Move", 92.5], ["Move", 3.0]]},
        {"kind": "re-run", "wall_s": 40.0, "changed": 0, "plays": [["Build", 5.0], ["Move", 3.0]]}]}
    assert _plot.plot(lab, str(tmp_path / "l.png")) == str(tmp_path / "l.png")
    assert header(tmp_path / "t.png") == header(tmp_path / "l.png") == PNG
