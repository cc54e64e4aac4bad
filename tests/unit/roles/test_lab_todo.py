# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab role writes only what one `find` shows missing or different (issue 13, re-run speed):
dirs.json.j2 and todo.json.j2 evaluated with Ansible's templar against a real directory tree
written the way the role's tasks write it, and a `find` result made by ansible.builtin.find's
own code over that tree."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, "roles", "lab")
HOSTS = [{"name": "hv1", "container": "lab-hv1", "bridge": "sanbr0", "mac": "52:54:00:00:00:01", "ipv4": True,
          "address": "198.51.100.11", "prefixlen": 25, "lxc_config": [], "files": []},
         {"name": "hv2", "container": "lab-hv2", "bridge": "sanbr0", "mac": "52:54:00:00:00:02", "ipv4": False,
          "address": "198.51.100.12", "prefixlen": 25, "lxc_config": [],
          "files": [{"path": "/etc/systemd/network/br0.netdev", "content": "[NetDev]\nName=br0\n"},
                    {"path": "etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
                     "link": "/lib/systemd/system/systemd-networkd.service"}]}]


def render(name, **variables):
    if lookup_loader.get("ansible.builtin.template") is None:
        init_plugin_loader()
    v = {"lab_name": "lab", "__lab_hosts": HOSTS, "ansible_search_path": [ROLE], "role_path": ROLE,
         "__lab_pubkey": "ssh-ed25519 AAAA lab\n"}
    v.update(variables)
    loader = DataLoader()
    loader.set_basedir(ROLE)
    text = Templar(loader=loader, variables=v).template("{{ lookup('ansible.builtin.template', '%s') }}" % name)
    if not name.endswith(".json.j2"):
        return text
    return json.loads(text) if isinstance(text, str) else text  # the templar may convert it already


def find(top):
    """What ansible.builtin.find returns for the tree (path, mode, isdir, isreg, checksum)."""
    files = []
    for root, dirs, names in os.walk(top):
        for name in dirs + names:
            path = os.path.join(root, name)
            st = os.lstat(path)
            entry = {"path": path, "mode": "%04o" % (st.st_mode & 0o7777), "isdir": os.path.isdir(path),
                     "isreg": os.path.isfile(path) and not os.path.islink(path), "islnk": os.path.islink(path)}
            if entry["isreg"]:
                with open(path, "rb") as handle:
                    entry["checksum"] = hashlib.sha1(handle.read()).hexdigest()
            files.append(entry)
    return {"files": files}


def write(ct_dir, todo, config_text):
    """Do what the role's tasks do for each item of the todo lists."""
    for d in todo["dirs"]:
        os.makedirs(d["path"], exist_ok=True)
        os.chmod(d["path"], int(d["mode"], 8))
    for f in todo["files"]:
        path = os.path.join(ct_dir, f["container"], "delta", f["path"])
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f["content"])
        os.chmod(path, int(f["mode"], 8))
    for h in todo["hostkeys"]:
        with open(os.path.join(ct_dir, h["container"], "delta/etc/ssh/ssh_host_ed25519_key"), "w") as handle:
            handle.write("key")
    for h in todo["configs"]:
        path = os.path.join(ct_dir, h["container"], "config")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(config_text[h["container"]])
        os.chmod(path, 0o644)


@pytest.fixture
def lab(tmp_path):
    ct_dir = str(tmp_path / "containers")
    os.mkdir(ct_dir)
    base = {"__lab_ct_dir": ct_dir, "__lab_image_root": "/var/cache/image"}
    base["__lab_file_list"] = render("files.json.j2", **base)
    base["__lab_dir_list"] = render("dirs.json.j2", **base)
    configs = {h["container"]: render("lxc.conf.j2", item=h, **base) for h in HOSTS}
    return ct_dir, base, configs


def todo(lab):
    ct_dir, base, _configs = lab
    return render("todo.json.j2", __lab_present=find(ct_dir), **base)


def test_dirs_include_upper_layers_and_own_file_dirs_once(lab):
    ct_dir, base, _configs = lab
    paths = [d["path"] for d in base["__lab_dir_list"]]
    assert len(paths) == len(set(paths))
    assert {"path": ct_dir + "/lab-hv1/delta/root/.ssh", "mode": "0700"} in base["__lab_dir_list"]
    assert {"path": ct_dir + "/lab-hv2/delta/etc/systemd/network", "mode": "0755"} in base["__lab_dir_list"]


def test_empty_tree_needs_everything(lab):
    first = todo(lab)
    assert len(first["dirs"]) == len(lab[1]["__lab_dir_list"])
    assert len(first["files"]) == len([f for f in lab[1]["__lab_file_list"] if not f["link"]])
    assert [h["name"] for h in first["hostkeys"]] == ["hv1", "hv2"]
    assert [h["name"] for h in first["configs"]] == ["hv1", "hv2"]


def test_written_tree_needs_nothing_then_heals_what_changed(lab):
    ct_dir, base, configs = lab
    write(ct_dir, todo(lab), configs)
    # the role renders the configurations with the real ansible_managed; here the test wrote
    # them with the same lookup, so a written tree needs nothing at all
    again = render("todo.json.j2", __lab_present=find(ct_dir), **base)
    assert again == {"dirs": [], "files": [], "hostkeys": [], "configs": []}
    with open(os.path.join(ct_dir, "lab-hv2/delta/etc/hostname"), "w") as handle:
        handle.write("other\n")
    os.chmod(os.path.join(ct_dir, "lab-hv1/delta/root/.ssh"), 0o755)
    os.chmod(os.path.join(ct_dir, "lab-hv1/delta/root/.ssh/authorized_keys"), 0o644)
    os.remove(os.path.join(ct_dir, "lab-hv1/delta/etc/ssh/ssh_host_ed25519_key"))
    healed = render("todo.json.j2", __lab_present=find(ct_dir), **base)
    assert [d["path"] for d in healed["dirs"]] == [ct_dir + "/lab-hv1/delta/root/.ssh"]
    assert sorted((f["name"], f["path"]) for f in healed["files"]) == [
        ("hv1", "root/.ssh/authorized_keys"), ("hv2", "etc/hostname")]
    assert [h["name"] for h in healed["hostkeys"]] == ["hv1"]


@pytest.mark.parametrize("group_sched", [True, False])
def test_real_time_budget_only_where_the_kernel_keeps_one(group_sched):
    """A host's rt_runtime_us becomes lxc.cgroup.cpu.rt_runtime_us only on cgroup v1 with RT group
    scheduling (LXC has no such key on cgroup v2); a host without it gets no line."""
    hosts = [dict(HOSTS[0], rt_runtime_us=100000), HOSTS[1]]
    texts = [render("lxc.conf.j2", item=h, __lab_ct_dir="/x", __lab_image_root="/i",
                    __lab_rt_group_sched=group_sched) for h in hosts]
    assert ("lxc.cgroup.cpu.rt_runtime_us = 100000" in texts[0].splitlines()) is group_sched
    assert "rt_runtime_us" not in texts[1]


def render_expr(expr):
    if lookup_loader.get("ansible.builtin.file") is None:
        init_plugin_loader()
    loader = DataLoader()
    loader.set_basedir(ROLE)
    return Templar(loader=loader, variables={}).template(expr)


def test_real_time_budget_where_this_host_keeps_one():
    """The role's own test of the host: cgroup v1 with RT group scheduling and PID 1 in the root cpu
    cgroup (this machine: /sys/fs/cgroup/cpu/cpu.rt_runtime_us, /proc/1/cgroup "1:cpu:/")."""
    with open(os.path.join(ROLE, "vars", "main.yml"), encoding="utf-8") as f:
        expr = f.read().split("__lab_rt_group_sched: >-", 1)[1]
    want = os.path.isfile("/sys/fs/cgroup/cpu/cpu.rt_runtime_us") and any(
        line.split(":")[1].split(",").count("cpu") and line.split(":", 2)[2] == "/"
        for line in open("/proc/1/cgroup", encoding="utf-8").read().splitlines() if line.count(":") >= 2)
    assert render_expr(" ".join(expr.split())) is want
