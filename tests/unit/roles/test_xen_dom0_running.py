# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded inventory tells playbooks/xen.yml which dom0s are down (issue 13, re-run speed):
``sanboot_xen_dom0_running`` is true only for a dom0 with a live process behind its QEMU pidfile
(evaluated with Ansible's templar, set up as for the roles' expressions, against pidfiles in a
temporary directory)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from _templar import _load_collection_plugins

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB_DIR = "/var/lib/sanboot-lab/xen/"


def running(state_dir, host="xen1"):
    with open(os.path.join(ROOT, "inventories", "local", "group_vars", "xen_dom0s.yml"), encoding="utf-8") as f:
        expr = yaml.safe_load(f)["sanboot_xen_dom0_running"]
    assert LAB_DIR in expr  # the directory of role xen_lab's default xen_lab_dir
    _load_collection_plugins()
    return Templar(loader=DataLoader(), variables={"inventory_hostname": host}).template(
        expr.replace(LAB_DIR, str(state_dir) + "/"))


def pidfile(state_dir, text, host="xen1"):
    os.makedirs(os.path.join(str(state_dir), host), exist_ok=True)
    with open(os.path.join(str(state_dir), host, "qemu.pid"), "w", encoding="utf-8") as f:
        f.write(text)


def test_no_pidfile_is_down(tmp_path):
    assert running(tmp_path) is False


def test_a_live_process_runs(tmp_path):
    pidfile(tmp_path, "%d\n" % os.getpid())
    assert running(tmp_path) is True
    assert running(tmp_path, host="xen2") is False


def test_a_process_that_ended_is_down(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()
    pidfile(tmp_path, "%d\n" % child.pid)
    assert running(tmp_path) is False


@pytest.mark.parametrize("text", ["", "\n", "self", "../1", "12 34"])
def test_a_pidfile_without_a_pid_is_down(tmp_path, text):
    pidfile(tmp_path, text)
    assert running(tmp_path) is False


def test_xen_yml_skips_only_what_the_inventory_marks_down():
    with open(os.path.join(ROOT, "playbooks", "xen.yml"), encoding="utf-8") as f:
        block = yaml.safe_load(f)[0]["tasks"][0]["block"]
    skip = block[0]
    assert "ansible.builtin.fail" in skip
    when = "{{ %s }}" % skip["when"]
    templar = Templar(loader=DataLoader(), variables={})
    assert templar.template(when) is False  # an inventory that says nothing: the dom0 is looked for
    templar = Templar(loader=DataLoader(), variables={"sanboot_xen_dom0_running": False})
    assert templar.template(when) is True
