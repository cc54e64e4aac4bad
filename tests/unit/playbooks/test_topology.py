# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/files/sanboot-topology.py: the lab's picture (DOT text, rendered by Graphviz's dot)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "playbooks", "files", "sanboot-topology.py")
IQN = "iqn.2025-01.lab.sanboot:target1."

# The embedded lab's shape (inventories/local): five hosts, three guests, one boot path each.
FACTS = {
    "networks": [{"bridge": "sanbr0", "cidr": "198.51.100.0/25", "address": "198.51.100.1"}],
    "hosts": {"target1": {"address": "198.51.100.10", "groups": ["lab_hosts", "san_targets"]},
              "client1": {"address": "198.51.100.20", "groups": ["clients", "lab_hosts"]},
              "hv1": {"address": "198.51.100.41", "groups": ["hypervisors", "lab_hosts"]},
              "hv2": {"address": "198.51.100.42", "groups": ["hypervisors", "lab_hosts"]},
              "pxe1": {"address": "198.51.100.15", "groups": ["lab_hosts", "pxe_servers"]}},
    "san": {"target1": {"portal": "198.51.100.10:3260",
                        "iscsi": [{"name": IQN + "disks", "luns": [1, 2]}, {"name": IQN + "guest1", "luns": [1]}],
                        "aoe": [{"shelf": 0, "slot": 1, "interface": "eth0"}]}},
    "guests": {"guest1": {"address": "198.51.100.61", "hypervisor": "hv1", "boot_path": "kernel",
                          "san_host": "target1", "target": IQN + "guest1", "lun": 1},
               "guest2": {"address": "198.51.100.62", "hypervisor": "hv2", "boot_path": "ipxe_iscsi",
                          "san_host": "target1", "target": IQN + "guest2", "lun": 1},
               "guest3": {"address": "198.51.100.63", "hypervisor": "hv1", "boot_path": "pxe_aoe",
                          "san_host": "target1", "aoe_shelf": 3, "aoe_slot": 1}},
    "pxe_servers": ["pxe1"],
}


def load():
    spec = importlib.util.spec_from_file_location("sanboot_topology", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dot_has_the_hosts_guests_and_their_edges():
    text = load().dot(FACTS)
    for name in ("target1", "client1", "hv1", "hv2", "pxe1", "guest1", "guest2", "guest3", "sanbr0"):
        assert '"%s" [' % name in text, name
    assert "198.51.100.0/25" in text and "portal 198.51.100.10:3260" in text
    # guest -> hypervisor
    assert '"guest1" -> "hv1" [label="runs on"]' in text
    assert '"guest2" -> "hv2" [label="runs on"]' in text
    assert '"guest3" -> "hv1" [label="runs on"]' in text
    # guest -> its root LUN or AoE export on target1 (guest2's LUN is added though target1 did not list it)
    assert '"guest1" -> "target1|%sguest1|lun1"' % IQN in text
    assert '"guest2" -> "target1|%sguest2|lun1"' % IQN in text
    assert '"guest3" -> "target1|e3.1"' in text
    assert text.count('"target1|%sguest1|lun1" [shape=note' % IQN) == 1
    assert '"target1|e3.1" [shape=note, label="AoE e3.1 on eth0"]' in text
    assert '"target1|e0.1" [' in text and '"target1|%sdisks|lun2" [' % IQN in text
    # pxe1 -> the network-booted guests only
    assert '"pxe1" -> "guest2"' in text and '"pxe1" -> "guest3"' in text
    assert '"pxe1" -> "guest1"' not in text
    # every host on the bridge with its address
    assert '"hv2" -> "sanbr0" [dir=none, color=grey40, label="198.51.100.42"]' in text


def test_dot_renders_to_svg_with_graphviz(tmp_path):
    assert shutil.which("dot"), "Graphviz's dot is missing (Debian package graphviz, Makefile APT_PACKAGES)"
    base = str(tmp_path / "topology")
    proc = subprocess.run([sys.executable, SCRIPT, base], input=json.dumps(FACTS), text=True,
                          capture_output=True, check=True)
    assert proc.stdout.strip() == base + ".svg"
    with open(base + ".svg", encoding="utf-8") as f:
        svg = f.read()
    assert "<svg" in svg and "guest3" in svg and "AoE e3.1 on eth0" in svg
    with open(base + ".dot", encoding="utf-8") as f:
        assert f.read() == load().dot(FACTS)


def test_a_bad_dot_fails_the_render(tmp_path):
    try:
        load().render("digraph {", str(tmp_path / "x.svg"))
    except subprocess.CalledProcessError:
        return
    raise AssertionError("dot accepted a broken graph")
