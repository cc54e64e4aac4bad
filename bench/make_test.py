# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long ``make test`` takes, and where: each suite on one timeline (issue 13, goal <= 8 min).

``python -m bench make_test [--target T] [--jobs N] [--workers N]`` runs ``make T`` (default
``test``: the unit tests, test-prepare, then the integration suite beside sanity, lint and
molecule) in the repository with make's SHELL replaced by ``bench/_make_shell.sh``, which runs
every recipe line exactly as make would (bash, the Makefile's .SHELLFLAGS) and notes when it
started, when it ended and its exit status. Nothing in the Makefile changes.

Reported: the wall time of the whole run; per suite (a recipe line that starts no other make:
unit, prepare, integration, sanity, lint, molecule, the collection's build and install) its start
and end in seconds from the start of the run, its duration and status; the integration suite's
pytest summary and its slowest tests (``--durations``). The PNG is the timeline, a bar per suite.
make's whole output goes to ``bench/results/make_test.log``. A failing suite makes the benchmark
exit 1; a run longer than ``--timeout`` seconds (default 5400, CI's 90 minutes) is stopped (the
whole process group) and reported as such.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import time

from bench._common import RESULTS, ROOT, Run, py_versions, run_group

SHELL = os.path.join(ROOT, "bench", "_make_shell.sh")
SUITES = (("unit", r"pytest\b.*\btests/unit\b"), ("prepare", r"tests/integration/_workers\.py"),
          ("integration", r"pytest\b.*\btests/integration\b"), ("sanity", r"tests/sanity/run\.sh"),
          ("lint", r"\bansible-lint\b"), ("molecule", r"\bmolecule test\b"),
          ("collection", r"ansible-galaxy collection (build|install)"), ("deps", r"pip install|apt-get"))
SUB_MAKE = re.compile(r"(^|[\s/])make\s")
DURATION = re.compile(r"^\s*([\d.]+)s (setup|call|teardown)\s+(tests/integration/\S+)")
SUMMARY = re.compile(r"^=* ?(\d+ passed.*?) in ([\d.]+)s")
GOAL_S = 480


def suite_of(command):
    """The suite a recipe line runs (``None``: it starts another make; ``other`` otherwise)."""
    if SUB_MAKE.search(command):
        return None
    return next((name for name, pattern in SUITES if re.search(pattern, command, re.S)), "other")


def parse_times(text, started):
    """Recipe lines from the wrapper's log: ``[{suite, start_s, end_s, s, status, command}]``."""
    lines = []
    for line in text.splitlines():
        fields = line.split(" ", 3)
        if len(fields) != 4:
            continue
        command = base64.b64decode(fields[3]).decode("utf-8", "replace")
        start, end = float(fields[0]) - started, float(fields[1]) - started
        lines.append({"suite": suite_of(command), "start_s": round(start, 1), "end_s": round(end, 1),
                      "s": round(end - start, 1), "status": int(fields[2]),
                      "command": " ".join(command.split())[:160]})
    return sorted(lines, key=lambda r: r["start_s"])


def parse_output(text):
    """``(pytest summaries [(text, seconds)], slowest integration tests [(seconds, phase, test)])``."""
    summaries = [(m.group(1), float(m.group(2))) for m in map(SUMMARY.match, text.splitlines()) if m]
    slowest = [(float(m.group(1)), m.group(2), m.group(3)) for m in map(DURATION.match, text.splitlines()) if m]
    return summaries, slowest


def run_make(argv, env, out_path, timeout):
    """Run make in a process group of its own; ``(status, wall seconds, timed out)``. The group is
    stopped (SIGTERM, SIGKILL a minute later) after ``timeout`` seconds or on Ctrl-C."""
    with open(out_path, "w", encoding="utf-8") as out:
        return run_group(argv, timeout, grace=60, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench make_test")
    parser.add_argument("--target", default="test", help="the make target (default: test)")
    parser.add_argument("--jobs", type=int, help="TEST_JOBS (the Makefile's default: 2)")
    parser.add_argument("--workers", type=int, help="TEST_WORKERS (the Makefile's default: 2)")
    parser.add_argument("--timeout", type=int, default=5400, help="seconds before the run is stopped")
    args = parser.parse_args(argv)
    run = Run("make_test", vars(args))
    os.makedirs(RESULTS, exist_ok=True)
    times_path, out_path = (os.path.join(RESULTS, "make_test.%s" % ext) for ext in ("times", "log"))
    with open(times_path, "w", encoding="utf-8"):
        pass
    command = ["make", "--no-print-directory", args.target, "SHELL=" + SHELL]
    command += ["TEST_JOBS=%d" % args.jobs] if args.jobs is not None else []
    command += ["TEST_WORKERS=%d" % args.workers] if args.workers is not None else []
    started = time.time()
    status, wall, timed_out = run_make(command, dict(os.environ, SANBOOT_BENCH_MAKE_LOG=times_path),
                                       out_path, args.timeout)
    with open(times_path, encoding="utf-8") as f:
        lines = parse_times(f.read(), started)
    with open(out_path, encoding="utf-8", errors="replace") as f:
        summaries, slowest = parse_output(f.read())
    leaves = [r for r in lines if r["suite"] is not None]
    rows = [{"suite": "make %s (wall clock)" % args.target, "start_s": 0.0, "end_s": round(wall, 1),
             "s": round(wall, 1), "status": status}]
    rows += [r for r in leaves if r["s"] >= 1 or r["status"] != 0]
    notes = ["goal of issue 13: make test <= %d s on 2 cores" % GOAL_S,
             "load average %s before the run" % run.load_before]
    notes += ["pytest: %s in %.1f s" % s for s in summaries]
    notes += ["timed out after %d s (the process group was stopped)" % args.timeout] if timed_out else []
    notes += ["make exited %d: see %s" % (status, os.path.relpath(out_path, ROOT))] if status else []
    run.report([("suite", "suite", "%s"), ("start_s", "start s", "%.1f"), ("end_s", "end s", "%.1f"),
                ("s", "s", "%.1f"), ("status", "status", "%d")],
               rows, py_versions("ansible-core", "pytest", "pytest-xdist", "molecule", "ansible-lint"),
               notes=notes,
               extra={"wall_s": round(wall, 1), "status": status, "timed_out": timed_out,
                      "recipe_lines": lines, "pytest_summaries": summaries,
                      "slowest_integration": [{"s": s, "phase": p, "test": t} for s, p, t in slowest]})
    print("slowest integration tests:")
    for seconds, phase, test in slowest[:10]:
        print("  %7.1f s %-8s %s" % (seconds, phase, test))
    return 1 if status else 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
