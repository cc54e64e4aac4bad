# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The changelog comes from antsibull-changelog fragments, is complete and is up to date.

- ``antsibull-changelog lint`` finds nothing in changelogs/fragments/;
- every fragment is part of changelogs/changelog.yaml (else: ``make changelog``);
- CHANGELOG.md is what ``antsibull-changelog generate`` renders from changelog.yaml;
- every module, filter, test and role of the tree is announced (its ``version_added``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
TOOL = os.path.join(BIN, "antsibull-changelog")
CHANGES = os.path.join(ROOT, "changelogs", "changelog.yaml")


def test_the_tool_is_installed():
    """requirements-test.txt installs it; a missing tool fails here instead of skipping the checks."""
    assert os.path.exists(TOOL), "antsibull-changelog not in the venv: pip install -r requirements-test.txt"


def _run(*args):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([TOOL, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def _changes():
    with open(CHANGES, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _names(directory, suffix):
    path = os.path.join(ROOT, directory)
    return {name[:-len(suffix)] if suffix else name for name in os.listdir(path)
            if not name.startswith(("_", ".")) and name.endswith(suffix)}


def test_fragments_lint_clean():
    proc = _run("lint")
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_every_fragment_is_released():
    fragments = {name for name in os.listdir(os.path.join(ROOT, "changelogs", "fragments")) if name.endswith((".yml", ".yaml"))}
    released = {name for release in _changes()["releases"].values() for name in release.get("fragments", [])}
    assert not sorted(fragments - released), "new fragments: run `make changelog`"


def test_rendered_changelog_is_generated(tmp_path):
    out = tmp_path / "CHANGELOG.md"
    proc = _run("generate", "--output", str(out), "--output-format", "md")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as handle:
        assert handle.read() == out.read_text(encoding="utf-8"), "CHANGELOG.md is stale: run `make changelog`"


@pytest.mark.parametrize("kind, found", [
    ("module", lambda release: {item["name"] for item in release.get("modules", [])}),
    ("filter", lambda release: {item["name"] for item in release.get("plugins", {}).get("filter", [])}),
    ("test", lambda release: {item["name"] for item in release.get("plugins", {}).get("test", [])}),
    ("role", lambda release: {item["name"] for item in release.get("objects", {}).get("role", [])}),
])
def test_everything_in_the_tree_is_announced(kind, found):
    present = {
        "module": lambda: _names("plugins/modules", ".py"),
        "filter": lambda: _names("plugins/filter", ".py"),
        "test": lambda: _names("plugins/test", ".py"),
        "role": lambda: _names("roles", ""),
    }[kind]()
    announced = set().union(*(found(release) for release in _changes()["releases"].values()))
    assert present, kind
    assert not sorted(present - announced), "give it version_added and run `make changelog`"
