# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every integration test file is in one of the groups of tests/integration/_workers.py (the kernel
testbed's users, the files that share the host's daemons) or declared independent: a new file has
to be placed by its author."""

from __future__ import annotations

import ast
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKERS = os.path.join(ROOT, "tests", "integration", "_workers.py")


def lists():
    with open(WORKERS, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.Tuple)):
            value = node.value.args[0] if isinstance(node.value, ast.Call) else node.value
            found[node.targets[0].id] = list(ast.literal_eval(value))
    for name, files in found.items():
        assert len(set(files)) == len(files), "%s names a file twice" % name
    return found


def test_every_integration_file_is_placed_once():
    found = lists()
    testbed, host, independent = (set(found[k]) for k in ("TESTBED", "HOST_DAEMONS", "INDEPENDENT"))
    files = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))}
    assert not testbed & host and not testbed & independent and not host & independent
    assert files - testbed - host - independent == set(), "place these in tests/integration/_workers.py"
    assert (testbed | host | independent) - files == set(), "no such test files"
    units = {"testbed", "host-daemons"} | independent
    assert set(found["ORDER"]) == units, "ORDER must name every unit once: %s" % (units ^ set(found["ORDER"]))


def _files_matching(pattern):
    out = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py")):
        with open(path, encoding="utf-8") as f:
            if re.search(pattern, f.read()):
                out.add(os.path.basename(path))
    return out


def test_the_testbed_users_share_one_group():
    """The testbed is one VM per pytest process behind a file lock: all its users on one worker."""
    users = _files_matching(r"[(,]\s*testbed\s*[,)]")   # a test or fixture taking the fixture
    assert users and users <= set(lists()["TESTBED"]), users - set(lists()["TESTBED"])


def test_no_testbed_file_runs_a_vblade():
    """test_abuse_aoe watches /run/sanboot-vblade: the vblade users share its worker."""
    assert not _files_matching(r"vblade|aoe_export") & set(lists()["TESTBED"])


CONTROL_PORT = re.compile(r'\b(?:CONTROL(?:_PORT)?|PORT)\s*(?:,\s*\w+)?\s*=\s*"?(\d{2,3})(?![\d.])'
                          r'|\bport, portal = (\d+)|\bTgtd\((\d+)|\bdaemons\((\d+)|\bcontrol_port=(\d+)')


def _control_ports(name):
    with open(os.path.join(ROOT, "tests", "integration", name), encoding="utf-8") as f:
        return {int(g) for m in CONTROL_PORT.finditer(f.read()) for g in m.groups() if g}


def test_the_two_groups_use_distinct_tgtd_control_ports():
    """TESTBED and HOST_DAEMONS run side by side: a tgtd control port (its socket under
    /var/run/tgtd) named in a file of one group must not be named in a file of the other."""
    found = lists()
    testbed = {p: n for n in found["TESTBED"] for p in _control_ports(n)}
    host = {p: n for n in found["HOST_DAEMONS"] for p in _control_ports(n)}
    assert {80, 87, 88} <= set(testbed) and {42, 51, 60, 67, 77} <= set(host), (testbed, host)
    shared = set(testbed) & set(host)
    assert not shared, {p: (testbed[p], host[p]) for p in shared}
