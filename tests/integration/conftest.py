# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the integration tests: the QEMU kernel testbed (see _testbed.py), blocking stdio;
the files' groups on pytest-xdist workers (see _workers.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _testbed import testbed  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
import _workers  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    """On xdist's controller (``-n N``, N > 0): make what the workers share before they start
    (unless ``make test`` did already: SANBOOT_TEST_PREPARED=1)."""
    if getattr(config, "workerinput", None) is None and (config.getoption("numprocesses", None) or 0) > 0 \
            and os.environ.get("SANBOOT_TEST_PREPARED") != "1":
        _workers.prepare()


def pytest_xdist_make_scheduler(config, log):
    """On xdist's controller: each file a unit of work, the files that share the host's daemons one."""
    return _workers.scheduler(config, log)


def pytest_collection_modifyitems(config, items):
    """On an xdist worker: the units in the order they are handed out, the longest first."""
    if getattr(config, "workerinput", None) is not None:
        items.sort(key=lambda item: _workers.rank(item.path))


@pytest.fixture(autouse=True)
def _blocking_stdio():
    """Every test starts with blocking stdin/stdout/stderr.

    ssh sets O_NONBLOCK on the stdin it inherits (the open file pytest and every later child
    share) and leaves it so when its peer dies; from then on every ansible command refuses to
    start ("Ansible requires blocking IO on stdin/stdout/stderr"). A testbed stopped during a CI
    run once failed 29 later tests so, most of them nowhere near the testbed. The ssh helpers now
    read /dev/null; this undoes what any other child may have left.
    """
    for fd in (0, 1, 2):
        try:
            os.set_blocking(fd, True)
        except OSError:         # closed or not a file that has the flag
            pass
    yield
