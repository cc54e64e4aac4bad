"""The layering of plugins/module_utils (docs/architecture.md): modules -> domain -> common.

Every import of the collection's own code, at any depth (no function-level import may dodge the
rule), must go from a domain package to itself or to ``common``, and from ``common`` only to
``common``; no module_utils file over 400 lines, no module file over 300 lines.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MU_DIR = os.path.join(ROOT, "plugins", "module_utils")
MU = "ansible_collections.sanboot.lab.plugins.module_utils"
PACKAGES = sorted(d for d in os.listdir(MU_DIR) if os.path.isdir(os.path.join(MU_DIR, d)) and not d.startswith("__"))


def _sources(directory):
    for base, _dirs, files in os.walk(directory):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(base, name)


def _imported_packages(path):
    with open(path) as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + ["%s.%s" % (node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith(MU + "."):
                yield name[len(MU) + 1:].split(".")[0], node.lineno


def test_packages_are_the_documented_ones():
    assert PACKAGES == ["aoe", "boot", "common", "initiator", "lvm", "migrate", "target"]
    assert not [f for f in os.listdir(MU_DIR) if f.endswith(".py")], "module_utils/ holds packages only"


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package):
    allowed = {"common"} if package == "common" else {"common", package}
    wrong = []
    for path in _sources(os.path.join(MU_DIR, package)):
        for imported, line in _imported_packages(path):
            if imported not in allowed:
                wrong.append("%s:%d imports %s" % (os.path.relpath(path, ROOT), line, imported))
    assert not wrong


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_says_what_it_holds(package):
    with open(os.path.join(MU_DIR, package, "__init__.py")) as handle:
        doc = ast.get_docstring(ast.parse(handle.read()))
    assert doc and "import" in doc


@pytest.mark.parametrize("directory,limit", [("plugins/module_utils", 400), ("plugins/modules", 300)])
def test_files_stay_small(directory, limit):
    long_files = []
    for path in _sources(os.path.join(ROOT, directory)):
        with open(path) as handle:
            lines = len(handle.readlines())
        if lines > limit:
            long_files.append("%s: %d lines" % (os.path.relpath(path, ROOT), lines))
    assert not long_files
