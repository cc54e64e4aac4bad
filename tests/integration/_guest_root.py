# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cached Debian guest root directory of roles/guest_image, for tests that need a real image.

The role builds it once (debootstrap + linux-image-amd64, initramfs-tools, open-iscsi, lvm2,
python3, ...; 2-3 minutes, needs the package registries) under the lab cache and reuses it; the
same cache serves ``make lab``'s guests and the testbed. Tests copy it and work on the copy.
"""

from __future__ import annotations

import json

from _ansible import ansible_env, command, run_json


def cached_guest_root():
    """Path of the guest_image role's cached base root directory (built when missing)."""
    base = {"name": "Base root",
            "ansible.builtin.include_role": {"name": "sanboot.lab.guest_image", "tasks_from": "base"}}
    path = {"name": "Path", "ansible.builtin.debug": {"var": "__guest_image_base_dir"}}
    play = [{"name": "Build or reuse the guest base root", "hosts": "localhost",
             "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}",
                      "guest_image_name": "tests"},
             "tasks": [base, path]}]
    proc, out = run_json([command("ansible-playbook"), "-i", "localhost,", "/dev/stdin"],
                         env=ansible_env(), input=json.dumps(play))
    assert proc.returncode == 0 and out, proc.stdout[-4000:] + proc.stderr[-2000:]
    last = out["plays"][0]["tasks"][-1]["hosts"]["localhost"]
    return last["__guest_image_base_dir"] + "/rootfs"
