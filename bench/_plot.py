# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PNG plots of the benchmarks' series, written next to their JSON (``bench/results/<name>.png``).

:func:`plot` picks the series from a result dict (what :meth:`_common.Run.report` writes):

- ``migration_stress*``: downtime (ms) and lost pings per move, in move order;
- ``migration_announce``: the same per announce mode (from ``results[].moves_detail``);
- ``migration_time``: total time and downtime (ms) of every move per configuration, medians marked;
- ``netboot_time``: seconds to ssh per guest and round (``raw``);
- ``iscsi_target_scale``: seconds per step and tool (converge, no-op run, ...);
- ``xen_times``: boot seconds (Xen hosts, guest4) and the domU clock offset per clocksource
  variant before and after each cold move.

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
    elif name == "xen_times" and (data.get("boot") or data.get("results")):
        fig = _plot_xen(plt, data)
    else:
        return None
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
