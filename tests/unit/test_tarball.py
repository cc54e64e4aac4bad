# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection tarball holds what a user needs and nothing else (galaxy.yml ``build_ignore``).

The tree is copied to a temporary directory, decoys of what test and lint runs leave behind are
added (``.pytest_cache/``, an ansible-lint ``.ansible/`` tree with a symlink back to the
collection, ``__pycache__``, ``tests/output``, ``bench/results``...), and ``ansible-galaxy
collection build`` builds it; the tarball's members are checked. docs/packaging.md says why each
top-level entry ships.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GALAXY = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")

# Top-level entries every tarball has; any other top-level *.txt (bindep.txt) ships too, except
# the repository's own pinned requirements (requirements-ee.txt, an EE's Python needs, ships).
SHIPPED = {
    "CHANGELOG.md", "COPYING", "FILES.json", "MANIFEST.json", "README.md", "requirements-ee.txt",
    "changelogs", "docs", "inventories", "meta", "playbooks", "plugins", "roles", "tests",
}
FORBIDDEN_TOP = {"molecule", "bench", "Makefile", "ansible.cfg", "pytest.ini", "galaxy.yml",
                 "requirements.txt", "requirements-test.txt", "requirements-docs.txt", "requirements.yml",
                 "execution-environment.yml"}

DECOYS = {
    ".pytest_cache/v/cache/lastfailed": "{}",
    ".cache/pytest-collections/x": "",
    ".venv/bin/python": "",
    ".ci/decoy": "",
    "tests/output/junit.xml": "",
    "tests/unit/decoy_test.py": "",
    "bench/results/decoy.json": "{}",
    "roles/lab/.pytest_cache/README.md": "",
    "plugins/modules/__pycache__/decoy.cpython-311.pyc": "",
    "plugins/filter/decoy.pyc": "",
    "docs/.decoy.md.swp": "",
    "playbooks/site.retry": "",
    "changelogs/.plugin-cache.yaml": "",
    "changelogs/fragments/decoy.yml": "",
}


def _expected_top(tree):
    extra = {name for name in os.listdir(tree)
             if name.endswith(".txt") and not name.startswith("requirements") and os.path.isfile(os.path.join(tree, name))}
    return SHIPPED | extra


def _build(tree, out):
    proc = subprocess.run([GALAXY, "collection", "build", "--force", "--output-path", out, tree],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = [name for name in os.listdir(out) if name.endswith(".tar.gz")]
    assert len(tarballs) == 1, tarballs
    with tarfile.open(os.path.join(out, tarballs[0])) as tar:
        return {member.name.rstrip("/"): member for member in tar.getmembers()}


def _forbidden(path):
    parts = path.split("/")
    reasons = []
    if any(part.startswith(".") for part in parts):
        reasons.append("hidden")
    if "__pycache__" in parts or path.endswith((".pyc", ".pyo", ".retry", ".swp", "~")):
        reasons.append("build residue")
    if parts[0] in FORBIDDEN_TOP:
        reasons.append("repository only")
    if parts[0] == "tests" and path not in ("tests", "tests/sanity") and not (
            len(parts) == 3 and parts[1] == "sanity" and parts[2].startswith("ignore-") and parts[2].endswith(".txt")):
        reasons.append("tests other than the sanity ignore files")
    if parts[0] == "changelogs" and path not in ("changelogs", "changelogs/changelog.yaml", "changelogs/config.yaml"):
        reasons.append("changelog source")
    return reasons


def _tracked_shipped():
    """Files git tracks under the shipped directories (they must all be in the tarball)."""
    if not os.path.isdir(os.path.join(ROOT, ".git")) and not os.path.isfile(os.path.join(ROOT, ".git")):
        return None
    proc = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--", "plugins", "roles", "playbooks",
                           "docs", "inventories", "meta"], capture_output=True, check=False)
    if proc.returncode != 0:
        return None
    return {path for path in proc.stdout.decode().split("\0") if path and not _forbidden(path)}


def _skip_big(directory, names):
    """Leave out of the copy what is large or machine-local (the decoys stand for it)."""
    rel = os.path.relpath(directory, ROOT)
    if rel == ".":  # .git, .cache, .venv, .pytest_cache, .ansible...: the real tree's build checks those
        return {name for name in names if name.startswith(".")}
    if rel in ("tests", "bench"):
        return {"output", "results"} & set(names)
    return set()


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    tree = str(tmp_path_factory.mktemp("tree") / "lab")
    shutil.copytree(ROOT, tree, symlinks=True, ignore=_skip_big)
    for rel, text in DECOYS.items():
        path = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    # ansible-lint's own install of the collection: a symlink back to the tree it lints.
    link = os.path.join(tree, ".ansible", "collections", "ansible_collections", "sanboot", "lab")
    os.makedirs(os.path.dirname(link))
    os.symlink(tree, link)
    return tree, _build(tree, str(tmp_path_factory.mktemp("dist")))


def test_top_level_is_exactly_what_a_user_needs(members):
    tree, found = members
    top = {name.split("/")[0] for name in found}
    assert top == _expected_top(tree)


def test_nothing_forbidden_ships(members):
    _tree, found = members
    bad = {name: _forbidden(name) for name in found if _forbidden(name)}
    assert not bad
    assert not [name for name, member in found.items() if member.issym() or member.islnk()]


def test_sanity_ignore_files_and_changelog_ship(members):
    tree, found = members
    ignores = {"tests/sanity/" + name for name in os.listdir(os.path.join(tree, "tests", "sanity")) if name.startswith("ignore-")}
    assert ignores and ignores <= set(found)
    assert {"changelogs/changelog.yaml", "changelogs/config.yaml", "meta/runtime.yml"} <= set(found)


def test_every_tracked_content_file_ships(members):
    _tree, found = members
    tracked = _tracked_shipped()
    if tracked is None:
        pytest.skip("not a git work tree")
    assert not sorted(tracked - set(found))


def test_the_real_tree_builds_clean(tmp_path):
    """What `make collection` builds from the work tree as it is (after test and lint runs)."""
    found = _build(ROOT, str(tmp_path))
    assert {name.split("/")[0] for name in found} == _expected_top(ROOT)
    assert not {name: _forbidden(name) for name in found if _forbidden(name)}
