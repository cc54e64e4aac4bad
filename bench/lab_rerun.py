# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a ``make lab`` run spends its time: seconds per play and the slowest tasks.

``python -m bench lab_rerun [--runs N] [--top K] [-e EXTRA_VARS] [--fresh]``. Runs ``make lab``
(``playbooks/lab.yml`` on ``inventories/local``, after make's check that the venv and the installed
collection are up to date; ``-e`` becomes ``LAB_VARS``) N times (default 1) with the
``ansible.posix.profile_tasks`` callback, on a lab that is already up (run ``make lab`` first),
and reports per run the wall time, the recap's changed count (0 for a re-run) and the seconds
spent in each play, and the K slowest tasks of the last run. The per-play time is the time from a
play's first task to the next play's first task (Ansible's start-up and the inventory parse fall
into the first play). ``--fresh`` first runs ``make lab-down`` (it removes the lab, as a new user's
``make lab-down`` does; the image cache stays), so that run 1 builds the lab from nothing with the
caches warm and the runs after it are re-runs. Goals of issue 13: a re-run <= 45 s, a fresh run
<= 2 min 30 s. The PNG stacks each run's plays.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile

from bench._common import ROOT, Run, py_versions, run_group

STAMP = re.compile(r"\(([\d:.]+)\)\s+(\d+):(\d+):([\d.]+)\s+\*+\s*$")
TOP = re.compile(r"^(.*?) -+ ([\d.]+)s$")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def parse(text):
    """``(plays [(name, seconds)], tasks [(name, seconds)], changed, failed)`` of a profiled run."""
    plays, marks, current = [], [], None
    for line in text.splitlines():
        if line.startswith("PLAY [") and "RECAP" not in line:
            current = line[len("PLAY ["):line.rindex("]")]
            marks.append([current, None])
        stamp = STAMP.search(line)
        if stamp and marks and marks[-1][1] is None:
            marks[-1][1] = int(stamp.group(2)) * 3600 + int(stamp.group(3)) * 60 + float(stamp.group(4))
    stamps = [STAMP.search(line) for line in text.splitlines()]
    last = [s for s in stamps if s]
    end = (int(last[-1].group(2)) * 3600 + int(last[-1].group(3)) * 60 + float(last[-1].group(4))) if last else 0.0
    timed = [(name, start) for name, start in marks if start is not None]
    for (name, start), nxt in zip(timed, [s for _n, s in timed[1:]] + [end]):
        plays.append((name, round(nxt - start, 1)))
    summary = text.split("=" * 79 + " \n", 1)[-1] if ("=" * 79) in text else ""
    tasks = [(m.group(1).strip(), float(m.group(2))) for m in map(TOP.match, summary.splitlines()) if m]
    recap = [RECAP.match(line) for line in text.split("PLAY RECAP", 1)[-1].splitlines()]
    changed = sum(int(m.group(2)) for m in recap if m)
    failed = sum(int(m.group(3)) + int(m.group(4)) for m in recap if m)
    return plays, tasks, changed, failed


def make(target, timeout, env=None, variables=()):
    """``make TARGET`` in the repository, its process group stopped after ``timeout`` seconds (or on
    Ctrl-C); ``(stdout, seconds)``, or RuntimeError with the end of its output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc, seconds, timed_out = run_group(["make", "--no-print-directory", target] + list(variables), timeout,
                                           grace=60, cwd=ROOT, env=env, stdout=out, stderr=err,
                                           stdin=subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if rc != 0 or timed_out:
        what = "timed out after %d s" % timeout if timed_out else "failed (rc %d)" % rc
        raise RuntimeError("make %s %s\n%s\n%s" % (target, what, stdout[-3000:], stderr[-2000:]))
    return stdout, seconds


def one_run(extra, top, kind):
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT=str(max(top, 20)), ANSIBLE_FORCE_COLOR="0")
    stdout, wall = make("lab", 3600, env, ["LAB_VARS=" + extra] if extra else [])
    plays, tasks, changed, failed = parse(stdout)
    return {"kind": kind, "wall_s": round(wall, 1), "changed": changed, "failed": failed, "plays": plays,
            "tasks": tasks[:top]}


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench lab_rerun")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("-e", dest="extra", default="", help="extra vars for lab.yml (make lab LAB_VARS=...)")
    parser.add_argument("--fresh", action="store_true", help="make lab-down first: run 1 builds the lab anew")
    args = parser.parse_args(argv)
    run = Run("lab_rerun", vars(args))
    rows = []
    if args.fresh:
        rows.append({"run": 0, "what": "make lab-down (wall clock)", "s": round(make("lab-down", 900)[1], 1)})
    raw = [one_run(args.extra, args.top, "fresh" if args.fresh and n == 0 else "re-run") for n in range(args.runs)]
    for n, result in enumerate(raw, 1):
        rows.append({"run": n, "what": "make lab, %s (wall clock)" % result["kind"], "s": result["wall_s"],
                     "changed": result["changed"]})
        merged = {}
        for name, seconds in result["plays"]:
            merged[name] = merged.get(name, 0.0) + seconds
        rows += [{"run": n, "what": "play: %s" % name, "s": round(s, 1)}
                 for name, s in sorted(merged.items(), key=lambda kv: -kv[1]) if s >= 0.5]
    rows += [{"run": len(raw), "what": "task: %s" % name, "s": s} for name, s in raw[-1]["tasks"]]
    run.report([("run", "run", "%d"), ("what", "what", "%s"), ("s", "s", "%.1f"), ("changed", "changed", "%d")],
               rows, py_versions("ansible-core"),
               notes=["plays of the same name (serial batches, the guests' moves) are summed",
                      "goals of issue 13: a re-run <= 45 s with changed=0, a fresh run <= 150 s (caches warm)"],
               extra={"raw": raw})


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
