# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the venv's ansible commands against the work tree's collection, with JSON output.

``tests/conftest.py`` links the work tree as ``ansible_collections/sanboot/lab`` under
``.cache/pytest-collections``: integration tests exercise the code as it is, without a
``make collection`` in between (and without racing one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, ".cache", "pytest-collections")


def command(name):
    """Path of the venv's ``ansible``, ``ansible-playbook``, ..."""
    return os.path.join(BIN, name)


def ansible_env(path_prefix=(), **extra):
    """Environment for ansible commands: JSON callback, the work tree's collection, the venv first
    on PATH (after ``path_prefix``, e.g. a directory of fakes), plus ``extra`` variables."""
    env = dict(os.environ)
    env.update(PATH=os.pathsep.join(list(path_prefix) + [BIN, env.get("PATH", "")]),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.update(extra)
    return env


def run_json(argv, env=None, **kwargs):
    """Run an ansible command (argv) with the JSON callback; return ``(proc, parsed stdout)``.
    The parsed output is None when stdout is not JSON (the caller's assertion shows why)."""
    proc = subprocess.run(argv, cwd=ROOT, env=env or ansible_env(), capture_output=True,
                          text=True, check=False, **kwargs)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        out = None
    return proc, out


def run_module(name, args, tmpdir, python=sys.executable, check_mode=False, env=None):
    """Run plugins/modules/<name>.py as Ansible runs it on a host (a Python process reading an
    ANSIBLE_MODULE_ARGS file), with the work tree's collection importable; return its result.

    ``env``: extra environment variables (a PYTHONPATH given there goes after the collection)."""
    module_args = dict(args, _ansible_check_mode=check_mode, _ansible_remote_tmp=os.path.join(str(tmpdir), "tmp"),
                       _ansible_keep_remote_files=False)
    argsfile = os.path.join(str(tmpdir), "args.json")
    with open(argsfile, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": module_args}, f)
    extra = dict(env or {})
    pythonpath = os.pathsep.join([COLLECTIONS] + [p for p in [extra.pop("PYTHONPATH", "")] if p])
    proc = subprocess.run([python, os.path.join(ROOT, "plugins", "modules", name + ".py"), argsfile],
                          env=dict(os.environ, PYTHONPATH=pythonpath, **extra), capture_output=True,
                          text=True, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s output: %s\n%s" % (name, proc.stdout, proc.stderr))
