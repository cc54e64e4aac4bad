# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG plots of the benchmarks' series, written next to their JSON (``bench/results/<name>.png``).

:func:`plot` picks the series from a result dict (what :meth:`_common.Run.report` writes):

- ``migration_stress*``: downtime (ms) and lost pings per move, in move order;
- ``migration_announce``: the same per announce mode (from ``results[].moves_detail``);
- ``migration_time``: total time and downtime (ms) of every move per configuration, medians marked;
- ``netboot_time``: seconds to ssh per guest and round (``raw``);
- ``iscsi_target_scale``: seconds against LUN count (log-log), a line per tool and step (one
  size: a bar per step);
- ``datapath_wire``: MB/s per link (MTU, shaping) as grouped bars of TCP, iSCSI and AoE per set;
- ``xen_times``: boot seconds (Xen hosts, guest4) and the domU clock offset per clocksource
  variant before and after each cold move;
- ``make_test``: a timeline of ``make test``, a bar per suite from its start to its end, the goal
  (8 min) marked;
- ``lab_rerun``: seconds per play of each ``make lab`` run, stacked (the 8 largest plays, the
  rest together), the goals (45 s re-run, 150 s fresh) marked.

A result without such a series gives no plot (``None``). matplotlib runs with the Agg backend.
"""

from __future__ import annotations

import os
import statistics


def _pyplot():
    import matplotlib  # noqa: PLC0415  pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415  pylint: disable=import-outside-toplevel
    return plt


def _moves_series(data):
    """[(label, downtimes ms, lost pings)] of a migration benchmark (empty when none)."""
    if data.get("moves"):
        moves = data["moves"]
        return [(data.get("params", {}).get("config", "moves"),
                 [m.get("downtime_ms") for m in moves], [m.get("lost_pings") or 0 for m in moves])]
    out = []
    for row in data.get("results", []):
        detail = row.get("moves_detail") or []
        if detail:
            out.append((row.get("announce", "moves"), [m.get("downtime") for m in detail],
                        [m.get("lost") or 0 for m in detail]))
    return out


def _plot_moves(plt, data, series):
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    for label, downtime, lost in series:
        xs = range(1, len(downtime) + 1)
        top.plot([x for x, d in zip(xs, downtime) if d is not None], [d for d in downtime if d is not None],
                 marker=".", label=label)
        bottom.bar([x + 0.0 for x in xs], lost, label=label, alpha=0.6)
    top.set_ylabel("downtime (ms)")
    bottom.set_ylabel("lost pings")
    bottom.yaxis.get_major_locator().set_params(integer=True)
    bottom.set_xlabel("move")
    top.legend(loc="upper right")
    top.set_title("%s: downtime and lost pings per move" % data.get("benchmark", "migration"))
    return fig


def _plot_time(plt, data):
    rows = data.get("results") or []
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    for i, row in enumerate(rows):
        moves = [m for m in row.get("moves_detail") or [] if not m.get("failed")]
        for ax, key in ((top, "total_ms"), (bottom, "downtime_ms")):
            ys = [m[key] for m in moves if m.get(key) is not None]
            ax.scatter([i] * len(ys), ys, s=12, alpha=0.6)
            if ys:
                ax.plot([i - 0.3, i + 0.3], [statistics.median(ys)] * 2, color="black")
    top.axhline(1200, color="red", linewidth=0.7, linestyle="--")
    bottom.axhline(30, color="red", linewidth=0.7, linestyle="--")
    top.set_ylabel("total time (ms)")
    bottom.set_ylabel("downtime (ms)")
    bottom.set_xticks(range(len(rows)), [r.get("config", "").replace(" (", "\n(") for r in rows],
                      rotation=30, ha="right", fontsize=7)
    top.set_title("migration_time: guest1 moves per configuration (dashed: goal)")
    fig.tight_layout()
    return fig


def _plot_netboot(plt, data):
    raw = data.get("raw") or {}
    fig, ax = plt.subplots(figsize=(7, 4))
    guests = sorted(raw)
    for i, guest in enumerate(guests):
        times = [r.get("ssh_s") for r in raw[guest] if r.get("ssh_s") is not None]
        ax.scatter([i] * len(times), times, label="%s (%s)" % (guest, raw[guest][0].get("hypervisor", "-")))
    ax.set_xticks(range(len(guests)), guests)
    ax.set_ylabel("seconds from power-on to ssh")
    ax.set_ylim(bottom=0)
    ax.set_title("netboot_time: boot time per guest and round")
    ax.legend(loc="lower right")
    return fig


def _plot_scale(plt, data):
    rows = [r for r in data.get("results", []) if r.get("luns")]
    if len(set(r["luns"] for r in rows)) < 2:
        return _plot_scale_bars(plt, data)
    fig, ax = plt.subplots(figsize=(8, 5))
    lines = {}
    for r in rows:
        lines.setdefault("%s (%s)" % (r["tool"].rstrip(":"), r["step"]), []).append(r)
    for label, pts in lines.items():
        done = [(r["luns"], r["seconds"]) for r in pts if r.get("seconds")]     # log axis: > 0
        stopped = [(r["luns"], float(r["time"].split()[1])) for r in pts
                   if r.get("seconds") is None and str(r.get("time", "")).startswith(">")]
        if not done and not stopped:
            continue
        line = ax.plot([x for x, _y in done], [y for _x, y in done], marker="o", label=label)[0]
        if stopped:     # a lower bound: the budget ran out
            ax.plot([x for x, _y in stopped], [y for _x, y in stopped], marker="^", linestyle="none",
                    color=line.get_color(), markerfacecolor="none")
    ping = [r for r in data.get("results", []) if r.get("tool") == "ansible ping"]
    if ping and ping[0].get("seconds"):
        ax.axhline(ping[0]["seconds"], color="grey", linewidth=0.8, linestyle=":",
                   label="ansible ping (start-up)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("LUNs (%s per target)" % data.get("params", {}).get("luns_per_target", "?"))
    ax.set_ylabel("seconds (wall clock; ^ = stopped at the budget)")
    ax.set_title("iscsi_target_scale: time against LUN count")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


def _plot_scale_bars(plt, data):
    rows = [r for r in data.get("results", []) if r.get("seconds") is not None]
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = ["%s\n%s" % (r.get("step", ""), r.get("tool", "")) for r in rows]
    ax.barh(range(len(rows)), [r["seconds"] for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    params = data.get("params", {})
    ax.set_title("iscsi_target_scale: %s targets x %s LUNs" % (params.get("targets", "?"), params.get("luns_per_target", "?")))
    fig.tight_layout()
    return fig


def _plot_xen(plt, data):
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    boot = [b for b in data.get("boot") or [] if b.get("multi_user_s") is not None]
    left.barh(range(len(boot)), [b["multi_user_s"] for b in boot])
    left.set_yticks(range(len(boot)), [b["what"].replace(" (", "\n(") for b in boot], fontsize=7)
    left.invert_yaxis()
    left.set_xlabel("seconds to up (Xen: xl info, guest4: multi-user)")
    left.set_title("boot")
    stages = ["booted", "on xen2", "back on xen1"]
    for row in data.get("results", []):
        ys = [row.get("offset_ms"), row.get("offset_xen2_ms"), row.get("offset_back_ms")]
        right.plot([x for x, y in zip(stages, ys) if y is not None], [y for y in ys if y is not None],
                   marker="o", label="%s (%s)" % (row.get("variant"), row.get("clocksource")))
    right.axhline(0, color="grey", linewidth=0.5)
    right.set_ylabel("guest clock - controller (ms)")
    right.set_title("guest4 clock across cold moves")
    right.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _plot_datapath(plt, data):
    rows = data.get("results", [])
    links = list(dict.fromkeys((r["mtu"], r["link"]) for r in rows))
    series = list(dict.fromkeys((r["config"], r["path"], r["tool"], r["direction"]) for r in rows))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / max(1, len(series))
    for i, key in enumerate(series):
        got = {(r["mtu"], r["link"]): r["mb_per_s"] for r in rows
               if (r["config"], r["path"], r["tool"], r["direction"]) == key}
        xs = [n + i * width for n, link in enumerate(links) if link in got]
        label = "%s %s %s (%s)" % (key[1], key[3], key[2].split(" (")[0], key[0]) if key[0] != "-" else "TCP %s" % key[3]
        ax.bar(xs, [got[link] for link in links if link in got], width, label=label, color=plt.cm.tab20(i % 20))
    ax.set_xticks([n + 0.4 - width / 2 for n in range(len(links))], ["MTU %d, %s" % link for link in links])
    ax.set_ylabel("MB/s")
    ax.set_title("datapath_wire: TCP vs iSCSI (tgtd) vs AoE (vblade) over one veth")
    ax.legend(fontsize=6, ncol=2, loc="upper right")
    fig.tight_layout()
    return fig


def _plot_make_test(plt, data):
    rows = [r for r in data.get("results", []) if r.get("start_s") is not None]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.8))
    palette = [plt.cm.tab10(i) for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]   # red only for a failure
    for n, row in enumerate(rows):
        color = "tab:red" if row.get("status") else palette[n % len(palette)]
        ax.barh(n, row["s"], left=row["start_s"], color=color)
        ax.text(row["end_s"], n, " %.0f s" % row["s"], va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r["suite"] for r in rows])
    ax.invert_yaxis()
    ax.axvline(480, color="grey", linestyle="--", linewidth=1, label="goal: 8 min")
    ax.set_xlabel("seconds from the start of the run")
    ax.set_title("make_test: when each suite ran (status != 0 in red)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _plot_lab_rerun(plt, data):
    runs = data.get("raw", [])
    totals = {}
    for run in runs:
        for name, seconds in run.get("plays", []):
            totals[name] = max(totals.get(name, 0.0), seconds)
    top = sorted(totals, key=lambda name: -totals[name])[:8]
    fig, ax = plt.subplots(figsize=(11, 1.1 * len(runs) + 2.5))
    for n, run in enumerate(runs):
        merged = {}
        for name, seconds in run.get("plays", []):
            key = name if name in top else "the rest"
            merged[key] = merged.get(key, 0.0) + seconds
        left = 0.0
        for i, key in enumerate(top + ["the rest"]):
            width = merged.get(key, 0.0)
            ax.barh(n, width, left=left, color="lightgrey" if key == "the rest" else plt.cm.tab10(i % 10),
                    label=key[:60] if n == 0 else None)
            left += width
        ax.text(left, n, " %.0f s (wall %.0f s, changed=%s)" % (left, run.get("wall_s", 0), run.get("changed")),
                va="center", fontsize=8)
    ax.set_yticks(range(len(runs)), [run.get("kind", "run %d" % (n + 1)) for n, run in enumerate(runs)])
    ax.invert_yaxis()
    for goal, label in ((45, "goal: re-run 45 s"), (150, "goal: fresh 2 min 30 s")):
        ax.axvline(goal, color="grey", linestyle="--", linewidth=1)
        ax.text(goal, 0.03, label + " ", transform=ax.get_xaxis_transform(), rotation=90, ha="right",
                va="bottom", fontsize=7, color="grey")
    ax.set_xlabel("seconds (profile_tasks, plays of the same name summed)")
    ax.set_title("lab_rerun: where a make lab run spends its time")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    fig.tight_layout()
    return fig


def plot(data, png_path):
    """Write the PNG of ``data``'s series to ``png_path``; return the path, or ``None`` (no series)."""
    name = data.get("benchmark", "")
    plt = _pyplot()
    if name.startswith(("migration_stress", "migration_announce")) and _moves_series(data):
        fig = _plot_moves(plt, data, _moves_series(data))
    elif name.startswith("migration_time") and data.get("results"):
        fig = _plot_time(plt, data)
    elif name == "netboot_time" and data.get("raw"):
        fig = _plot_netboot(plt, data)
    elif name == "iscsi_target_scale" and data.get("results"):
        fig = _plot_scale(plt, data)
    elif name == "datapath_wire" and data.get("results"):
        fig = _plot_datapath(plt, data)
    elif name == "xen_times" and (data.get("boot") or data.get("results")):
        fig = _plot_xen(plt, data)
    elif name == "make_test" and data.get("results"):
        fig = _plot_make_test(plt, data)
    elif name == "lab_rerun" and data.get("raw"):
        fig = _plot_lab_rerun(plt, data)
    else:
        return None
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
