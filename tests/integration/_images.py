# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cached images of the project's roles, for tests that need a real Debian tree.

Each role builds its image once (debootstrap + packages; 2-3 minutes, needs the package
registries) under the lab cache and reuses it; ``make lab``, molecule and the tests share them.
Tests copy or overlay them and never change the cached tree.
"""

from __future__ import annotations

import json

from _ansible import ansible_env, command, run_json


def _role_fact(role, tasks_from, fact, extra_vars=None, before=()):
    """Run ``role``'s ``tasks_from`` (after the ``before`` task files) on localhost; return ``fact``."""
    tasks = [{"name": "%s %s" % (role, name),
              "ansible.builtin.include_role": {"name": "sanboot.lab." + role, "tasks_from": name}}
             for name in list(before) + [tasks_from]]
    tasks.append({"name": "Result", "ansible.builtin.debug": {"var": fact}})
    play = [{"name": "Build or reuse an image of roles/" + role, "hosts": "localhost",
             "connection": "local", "gather_facts": False,
             "vars": dict({"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                          **(extra_vars or {})),
             "tasks": tasks}]
    proc, out = run_json([command("ansible-playbook"), "-i", "localhost,", "/dev/stdin"],
                         env=ansible_env(), input=json.dumps(play))
    assert proc.returncode == 0 and out, proc.stdout[-4000:] + proc.stderr[-2000:]
    return out["plays"][0]["tasks"][-1]["hosts"]["localhost"][fact]


def cached_guest_root():
    """roles/guest_image's cached base root (kernel, initramfs-tools, open-iscsi, lvm2, ...)."""
    return _role_fact("guest_image", "base", "__guest_image_base_dir",
                      {"guest_image_name": "tests"}) + "/rootfs"


def cached_lab_image():
    """roles/lab's cached container image (systemd, tgt, vblade, libvirt, ...)."""
    return _role_fact("lab", "image", "__lab_image_root", {"lab_hosts": []}, before=["validate"])
