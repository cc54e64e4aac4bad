# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging many targets: ``sanboot.lab.iscsi_target`` (aggregate ``targets:``) vs. tgt-admin.

``python -m bench iscsi_target_scale [--sweep 16,64,256,1024,4096] [--luns 4] [--budget 120] [--repeat 3]``
(run ``make collection`` first; ``make bench`` does); ``--targets N`` measures one size (N x
``--luns``).  For every size (a LUN count; 4 LUNs per target) one tgtd after the other on
loopback: control port 71 / 127.0.0.1:3292 for the module, 72 / 127.0.0.1:3293 for tgt-admin.
Backing stores are sparse 1 MiB files.  Timed, each as one wall-clock command:

* ``ansible-playbook`` of a play with ``ansible.builtin.ping`` (once): Ansible's own cost of a
  one-task playbook (each play here also has a ``debug`` task that prints what changed);
* ``ansible-playbook`` of a play with ``sanboot.lab.iscsi_target`` ``targets: "{{ scale_targets }}"``
  (a vars file): every target in one invocation (converge), then the same again (no-op:
  ``changed`` false, no write command);
* the module's process alone (``python -m ...iscsi_target ARGS.json``, as Ansible's wrapper runs
  it): a third no-op run, without Ansible's controller, worker and result handling;
* ``tgtadm --op show --mode target`` of the result (the module's read);
* ``tgt-admin -e`` of the equivalent configuration (the files the module persisted, pointing at
  copies of the backing files), then a no-op ``tgt-admin --update ALL`` (it recreates every idle
  target).  tgt-admin runs ``lsof FILE`` per LUN it adds, so each of its steps gets ``--budget``
  seconds: a step still running then is stopped (its process group killed) and shown as
  "> N s (stopped)"; a size whose estimate (the last size's time scaled by the LUN count) is over
  the budget is skipped.

tgtd opens 16 I/O threads per LUN; a size that would exceed the machine's free thread ids gets a
smaller ``tgtd -t`` (``_scale_steps.iothreads``), noted in the table.  Each tgtd is stopped by
PID after its part, also on failure.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from bench import _common
from bench import _scale_steps as steps

MODULE_CONTROL, MODULE_PORTAL = 71, "127.0.0.1:3292"
ADMIN_CONTROL, ADMIN_PORTAL = 72, "127.0.0.1:3293"
MODULE = "sanboot.lab.iscsi_target"

COLUMNS = [("luns", "LUNs", "%d"), ("targets", "targets", "%d"), ("tool", "tool", "%s"),
           ("step", "step", "%s"), ("time", "s", "%s"), ("changed", "changed", "%s"), ("write_commands", "writes", "%d"),
           ("shown", "shown T/L", "%s"), ("load", "load 1m", "%.1f"), ("note", "note", "%s")]


class Size(object):
    """The rows of one size (``n_luns`` LUNs in targets of ``per_target``)."""

    def __init__(self, n_luns, per_target):
        self.n_luns, self.n_targets = n_luns, max(1, n_luns // per_target)
        self.rows, self.tgtd = [], {}

    def add(self, tool, step, seconds, finished=True, result=None, control=None, note=None):
        shown = None
        if control is not None:
            t, lun, _s = steps.counts(control)
            shown = "%d/%d" % (t, lun)
        row = {"luns": self.n_luns, "targets": self.n_targets, "tool": tool, "step": step,
               "seconds": round(seconds, 2) if seconds is not None and finished else None,
               "time": ("%.2f" % seconds if finished else "> %d (stopped)" % seconds)
               if seconds is not None else "-",
               "changed": result["changed"] if result else None,
               "write_commands": (result["commands"] if isinstance(result["commands"], int)
                                  else len(result["commands"])) if result else None,
               "shown": shown, "load": round(os.getloadavg()[0], 1), "note": note}
        self.rows.append(row)
        return row


def _repeated(fn, repeat):
    """``fn() -> (result, seconds)`` run ``repeat`` times: (the result that changed most,
    median s, note with every time)."""
    runs = [fn() for _i in range(repeat)]
    times = sorted(s for _r, s in runs)
    worst = max((r for r, _s in runs), key=lambda r: (bool(r["changed"]), r["commands"]))
    note = "median of %d (%s s)" % (repeat, ", ".join("%.2f" % t for t in times)) if repeat > 1 else None
    return worst, times[len(times) // 2], note


def measure_module(tmp, size, per_target, nr_iothreads, why, repeat):
    args = steps.module_args(os.path.join(tmp, "module"), size.n_targets, per_target,
                             MODULE_CONTROL)
    with steps.tgtd(MODULE_CONTROL, MODULE_PORTAL, nr_iothreads) as (_daemon, pid):
        result, seconds = steps.ansible(MODULE, args, tmp)
        size.add("iscsi_target targets:", "converge", seconds, result=result,
                 control=MODULE_CONTROL, note=why)
        result, seconds, note = _repeated(lambda: steps.ansible(MODULE, args, tmp), repeat)
        size.add("iscsi_target targets:", "no-op second run", seconds, result=result,
                 control=MODULE_CONTROL, note=note)
        result, seconds, note = _repeated(lambda: steps.module_alone(MODULE, args, tmp), repeat)
        size.add("iscsi_target, its process alone", "no-op (no Ansible)", seconds, result=result,
                 note=note)
        size.tgtd["module"] = steps.proc_status(pid)
        size.add("tgtadm --op show", "read state", steps.counts(MODULE_CONTROL)[2])
    return args


def measure_admin(tmp, size, args, nr_iothreads, budget, skip):
    if skip:
        for step, tool in (("converge", "tgt-admin -e"), ("no-op second run", "tgt-admin --update ALL")):
            size.add(tool, step, None, note=skip)
        return None
    conf = steps.admin_config(tmp, args)
    with steps.tgtd(ADMIN_CONTROL, ADMIN_PORTAL, nr_iothreads) as (_daemon, pid):
        admin = ["tgt-admin", "-C", str(ADMIN_CONTROL), "-c", conf]
        seconds, done = steps.budgeted([*admin, "-e"], budget)
        first = size.add("tgt-admin -e", "converge", seconds, done, control=ADMIN_CONTROL)
        if done:
            seconds, ok = steps.budgeted([*admin, "--update", "ALL"], budget)
            size.add("tgt-admin --update ALL", "no-op second run", seconds, ok,
                     control=ADMIN_CONTROL)
        else:
            size.add("tgt-admin --update ALL", "no-op second run", None,
                     note="not run: -e was stopped")
        size.tgtd["tgt-admin"] = steps.proc_status(pid)
        one = args["targets"][0]["luns"][0]["path"].replace("/module/", "/admin/")
        size.add("lsof FILE", "in-use check, 1 file", _common.run(["lsof", one], check=False)[1])
    return first


def admin_skip(last, n_luns, budget):
    """Why tgt-admin is not run at ``n_luns`` (None: run it), from the last size's -e row."""
    if last is None:
        return None
    if last["seconds"] is None:
        return "skipped: %d LUNs already over the %d s budget" % (last["luns"], budget)
    estimate = last["seconds"] * n_luns / last["luns"]
    if estimate > budget:
        return "skipped: estimate %.0f s (%.1f s at %d LUNs, x%d) > budget %d s" % (
            estimate, last["seconds"], last["luns"], n_luns // last["luns"], budget)
    return None


def measure(tmp, sizes, per_target, budget, repeat):
    rows, daemons, last_admin = [], {}, None
    ping = Size(0, per_target)
    ping.add("ansible ping", "baseline (one task)", steps.ansible("ansible.builtin.ping", None, tmp)[1])
    rows += [dict(ping.rows[0], luns=None, targets=None)]
    for n_luns in sizes:
        size = Size(n_luns, per_target)
        work = os.path.join(tmp, "n%d" % n_luns)
        os.makedirs(work)
        nr_iothreads, why = steps.iothreads(n_luns)
        args = measure_module(work, size, per_target, nr_iothreads, why, repeat)
        first = measure_admin(work, size, args, nr_iothreads, budget,
                              admin_skip(last_admin, n_luns, budget))
        last_admin = first or last_admin
        daemons[n_luns] = dict(size.tgtd, nr_iothreads=nr_iothreads or steps.TGTD_DEFAULT_IOTHREADS)
        rows += size.rows
        _common.print_table("iscsi_target_scale: %d LUNs (so far)" % n_luns, COLUMNS, size.rows)
    return rows, daemons


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench iscsi_target_scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default="16,64,256,1024,4096",
                        help="LUN counts to measure, comma-separated (default %(default)s)")
    parser.add_argument("--targets", type=int, help="one size: this many targets (not a sweep)")
    parser.add_argument("--luns", type=int, default=4, help="LUNs per target (default 4)")
    parser.add_argument("--budget", type=int, default=120,
                        help="seconds each tgt-admin step may take (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="no-op runs per size, the median is shown (default %(default)s)")
    args = parser.parse_args(argv)
    sizes = [args.targets * args.luns] if args.targets else \
        [int(x) for x in args.sweep.split(",") if x.strip()]
    if not os.environ.get("SCALE_COLLECTIONS_PATH") and not os.path.exists(os.path.join(
            _common.ROOT, ".cache", "collections", "ansible_collections", "sanboot", "lab",
            "MANIFEST.json")):
        raise RuntimeError("the collection is not installed: run `make collection` first")
    run = _common.Run("iscsi_target_scale", {"sizes_luns": sizes, "luns_per_target": args.luns,
                                             "tgt_admin_budget_s": args.budget,
                                             "noop_repeat": args.repeat,
                                             "backing": "sparse 1 MiB files"})
    with tempfile.TemporaryDirectory(prefix="sanboot-bench-scale-") as tmp:
        rows, daemons = measure(tmp, sizes, args.luns, args.budget, max(1, args.repeat))
    tools = _common.deb_versions("tgt", "lsof")
    tools.update(_common.py_versions("ansible-core"))
    run.report(COLUMNS, rows, tools, extra={"tgtd": daemons}, notes=[
        "s: wall clock of the whole command (Ansible start-up included); the machine is shared: "
        "load 1m is the load average after the step",
        "shown T/L: targets/LUNs tgtadm shows afterwards",
        "tgt-admin's config is the module's persisted files (backing paths moved to copies); it "
        "runs `lsof FILE` per backing store (its in-use check) when adding a LUN",
        "tgtd opens %d I/O threads per LUN (bs_rdwr); see the note of a size run with -t"
        % steps.TGTD_DEFAULT_IOTHREADS])
    return 0


if __name__ == "__main__":
    main()
