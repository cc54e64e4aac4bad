# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/lab_up.yml refuses a lab network overlapping this machine's uplink or registries.

Runs the real playbook (role sanboot.lab.lab from the work tree) with lab_networks set to the
uplink 192.0.2.0/24 and the registries' 203.0.113.0/24: it must fail with an error naming
`lab_networks`, and create nothing (no bridge, no state dir, no image cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRIDGE = "sanbrguard"


def _link_exists(name):
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True, check=False).returncode == 0


@pytest.mark.integration
@pytest.mark.parametrize("cidr, address", [("192.0.2.0/24", "192.0.2.200"), ("203.0.113.0/24", "203.0.113.200")])
def test_overlapping_lab_network_is_refused_before_anything_changes(tmp_path, cidr, address):
    assert not _link_exists(BRIDGE)
    extra = {
        "lab_name": "guard",
        "lab_state_dir": str(tmp_path / "state"),
        "lab_cache_dir": str(tmp_path / "cache"),
        "lab_networks": [{"bridge": BRIDGE, "cidr": cidr, "address": address}],
    }
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "pytest-collections"))
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    try:
        run = subprocess.run([playbook, "playbooks/lab_up.yml", "-i", "inventories/local", "-e", json.dumps(extra)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        if _link_exists(BRIDGE):  # only if the guard failed: leave the machine as it was
            subprocess.run(["ip", "link", "del", BRIDGE], check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "lab_networks: %s (bridge %s) overlaps" % (cidr, BRIDGE) in " ".join(out.split()), out
    assert "Refuse lab networks that overlap" in out
    assert not (tmp_path / "state").exists() and not (tmp_path / "cache").exists()
    assert not _link_exists(BRIDGE)
