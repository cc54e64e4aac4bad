# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every integration test file is either run with the files that share the host's daemons or
declared independent (tests/integration/_workers.py): a new file has to be placed by its author."""

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
    return set(found["HOST_DAEMONS"]), set(found["INDEPENDENT"])


def test_every_integration_file_is_placed_once():
    host, independent = lists()
    files = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))}
    assert not host & independent
    assert files - host - independent == set(), "place these in tests/integration/_workers.py"
    assert (host | independent) - files == set(), "no such test files"


def test_the_testbed_users_share_the_host_group():
    """The testbed is one VM per pytest process behind a file lock: all its users on one worker."""
    host = lists()[0]
    users = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if re.search(r"[(,]\s*testbed\s*[,)]", text):  # a test or fixture taking the fixture
            users.add(os.path.basename(path))
    assert users and users <= host, users - host
