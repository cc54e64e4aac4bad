"""No task registers a name that a block or task around it defines in ``vars``.

A registered result outranks block and task vars, so every later task of the block sees the result
instead of the var: roles/debian_image once registered ``__debian_image_install`` (the job's status)
inside the block whose ``vars`` held the apt-get argv of the same name, and the first build with
backports on a fresh machine failed with "can only concatenate list (not "dict") to list".
"""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted(p for d in ("roles", "playbooks") for p in (ROOT / d).rglob("*.yml")
               if "tasks" in p.parts or "handlers" in p.parts or d == "playbooks")


def _tasks(node):
    """Task lists below a play, block or task list."""
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield item
    elif isinstance(node, dict):
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from _tasks(node.get(key))


def _clashes(task, scope):
    own = scope | set((task.get("vars") or {}) if isinstance(task.get("vars"), dict) else ())
    found = []
    if task.get("register") in own:
        found.append(task.get("name", "?"))
    for key in ("block", "rescue", "always"):
        for inner in _tasks(task.get(key)):
            found.extend(_clashes(inner, own))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_register_shadows_a_var(path):
    doc = yaml.safe_load(path.read_text()) or []
    tops = doc if isinstance(doc, list) else []
    found = []
    for top in tops:
        if not isinstance(top, dict):
            continue
        if "hosts" in top or "import_playbook" in top:     # a play
            scope = set(top.get("vars") or {}) if isinstance(top.get("vars"), dict) else set()
            for task in _tasks(top):
                found.extend(_clashes(task, scope))
        else:
            found.extend(_clashes(top, set()))
    assert not found, "%s: register shadows a var of its block/task: %s" % (path, found)
