# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/make_test.py: make's recipe lines timed by bench/_make_shell.sh, read back per suite."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import make_test  # noqa: E402  pylint: disable=wrong-import-position


def line(start, end, status, command):
    return "%s %s %d %s" % (start, end, status, base64.b64encode(command.encode()).decode())


def test_suites_and_sub_makes():
    assert make_test.suite_of("python -m pytest -q tests/unit") == "unit"
    assert make_test.suite_of("python -m pytest -q --durations=25 -n 2 tests/integration") == "integration"
    assert make_test.suite_of("python tests/integration/_workers.py") == "prepare"
    assert make_test.suite_of("nice -n 10 make --no-print-directory test-sanity") is None
    assert make_test.suite_of("SANBOOT_TEST_PREPARED=1 make -j2 test-integration test-static") is None
    assert make_test.suite_of("tests/sanity/run.sh") == "sanity"
    assert make_test.suite_of("cd /x && molecule test --all") == "molecule"
    assert make_test.suite_of("ansible-lint --profile production") == "lint"
    assert make_test.suite_of("echo done") == "other"


def test_times_relative_to_the_start_in_order():
    text = "\n".join([line("1010.0", "1700.5", 0, "python -m pytest -q -n 2\n tests/integration"),
                      line("1000.0", "1009.25", 0, "python -m pytest -q tests/unit"),
                      "garbage", line("1012.0", "1100.0", 2, "tests/sanity/run.sh")])
    rows = make_test.parse_times(text, 1000.0)
    assert [(r["suite"], r["start_s"], r["s"], r["status"]) for r in rows] == [
        ("unit", 0.0, 9.2, 0), ("integration", 10.0, 690.5, 0), ("sanity", 12.0, 88.0, 2)]
    assert rows[1]["command"] == "python -m pytest -q -n 2 tests/integration"


def test_pytest_summaries_and_durations():
    text = ("1291 passed in 20.51s\n=== slowest 25 durations ===\n"
            "155.01s call     tests/integration/test_multipath_failover.py::test_fio\n"
            "  98.20s setup    tests/integration/test_xen_real.py::test_real_xl\n"
            "288 passed in 864.12s (0:14:24)\n")
    summaries, slowest = make_test.parse_output(text)
    assert summaries == [("1291 passed", 20.51), ("288 passed", 864.12)]
    assert slowest == [(155.01, "call", "tests/integration/test_multipath_failover.py::test_fio"),
                       (98.2, "setup", "tests/integration/test_xen_real.py::test_real_xl")]


def test_the_shell_runs_the_line_as_make_would_and_logs_it(tmp_path):
    log = tmp_path / "times"
    env = dict(os.environ, SANBOOT_BENCH_MAKE_LOG=str(log))
    ok = subprocess.run([make_test.SHELL, "-eu", "-o", "pipefail", "-c", "echo 'a b' | tr a x"],
                        env=env, capture_output=True, text=True, check=False)
    failed = subprocess.run([make_test.SHELL, "-eu", "-o", "pipefail", "-c", "false | true"],
                            env=env, capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stdout, failed.returncode) == (0, "x b\n", 1)
    rows = make_test.parse_times(log.read_text(), 0.0)
    assert [(r["status"], r["command"]) for r in rows] == [(0, "echo 'a b' | tr a x"), (1, "false | true")]


def test_a_run_over_its_time_is_stopped_with_its_children(tmp_path):
    marker = tmp_path / "child-lived"
    status, wall, timed_out = make_test.run_make(
        ["sh", "-c", "(sleep 1; touch %s) & sleep 30" % marker], dict(os.environ), str(tmp_path / "out"), 0.3)
    assert timed_out and status != 0 and wall < 20
    subprocess.run(["sleep", "1.5"], check=True)
    assert not marker.exists()
