# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""inventories/example: a complete real lab (every group of inventories/local but lab_hosts),
parsed by ansible-inventory, every play of site.yml matching hosts in it, and site.yml
syntax-checked against it. Nothing connects anywhere (--list, --list-hosts, --syntax-check)."""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
EXAMPLE = os.path.join(ROOT, "inventories", "example")
LOCAL = os.path.join(ROOT, "inventories", "local")
DOC_NET = ipaddress.ip_network("198.51.100.0/24")
# Groups only the embedded lab has (LXC hosts made by playbooks/lab_up.yml).
LAB_ONLY_GROUPS = {"lab_hosts"}


def _env():
    env = dict(os.environ)
    env.update(PATH=os.pathsep.join([BIN, env.get("PATH", "")]), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "pytest-collections"),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    return env


def _run(*argv):
    proc = subprocess.run([os.path.join(BIN, argv[0])] + list(argv[1:]), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _inventory(path):
    return json.loads(_run("ansible-inventory", "-i", path, "--list").stdout)


def _groups(inv):
    return {name for name in inv if name not in ("_meta", "all", "ungrouped")}


@pytest.fixture(scope="module")
def example():
    return _inventory(EXAMPLE)


def test_example_has_every_group_of_the_embedded_lab(example):
    local = _inventory(LOCAL)
    missing = (_groups(local) - LAB_ONLY_GROUPS) - _groups(example)
    assert not missing, "inventories/example lacks groups of inventories/local: %s" % sorted(missing)
    for group in _groups(example):
        assert example[group].get("hosts") or example[group].get("children"), group


def test_example_hosts_use_the_documentation_range_and_no_lab_variables(example):
    hostvars = example["_meta"]["hostvars"]
    assert len(hostvars) >= 11
    for host, hvars in hostvars.items():
        assert ipaddress.ip_address(hvars["ansible_host"]) in DOC_NET, host
        lab = sorted(k for k in hvars if k.startswith("lab_"))
        assert not lab, "%s has lab-only variables %s" % (host, lab)
    for path in glob.glob(os.path.join(EXAMPLE, "**", "*.yml"), recursive=True):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for addr in re.findall(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", text):
            assert ipaddress.ip_address(addr) in DOC_NET, "%s: %s" % (path, addr)
        # No LXC lab variable, state directory or key of the embedded lab (comments may name them).
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"\blab_[a-z]+|/var/lib/sanboot-lab|lxc", code, re.I), path


def _runtime_groups():
    """Groups the playbooks make while they run (ansible.builtin.group_by keys)."""
    keys = set()
    for path in glob.glob(os.path.join(ROOT, "playbooks", "*.yml")):
        with open(path, encoding="utf-8") as f:
            keys.update(re.findall(r"ansible\.builtin\.group_by:\s*\n\s*key:\s*(\w+)", f.read()))
    return keys


def test_every_play_of_site_matches_hosts_of_the_example():
    out = _run("ansible-playbook", "--list-hosts", "playbooks/site.yml", "-i", EXAMPLE).stdout
    plays = re.findall(r"play #\d+ \(([^)]*)\): (.*?)\tTAGS.*\n(?:\s+pattern:.*\n)?\s+hosts \((\d+)\)", out)
    assert len(plays) > 15, out
    runtime = _runtime_groups()
    assert {"xen_dom0s_up", "xen_guests_up"} <= runtime
    empty = [(pattern, name) for pattern, name, count in plays if int(count) == 0 and pattern not in runtime]
    assert not empty, "plays of site.yml that match no host of inventories/example: %s" % empty


def test_site_syntax_check_with_the_example():
    _run("ansible-playbook", "--syntax-check", "playbooks/site.yml", "-i", EXAMPLE)
