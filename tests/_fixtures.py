# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Captured tool output under tests/unit/plugins/module_utils/fixtures/ (importable from every
test: tests/ is on sys.path through tests/conftest.py)."""

import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit", "plugins", "module_utils", "fixtures")


def fixture_reader(*subdir):
    """A function ``fixture(name)`` returning the text of ``fixtures/<subdir>/<name>``; an absolute
    ``name`` is read as it is."""
    base = os.path.join(FIXTURES, *subdir)

    def fixture(name):
        with open(os.path.join(base, name)) as f:
            return f.read()
    return fixture
