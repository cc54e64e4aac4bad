# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's topology as a picture: Graphviz DOT from the inventory's facts, rendered to SVG.

``sanboot-topology.py OUT_BASE`` reads one JSON object on stdin (playbooks/lab_summary.yml builds
it from the inventory) and writes ``OUT_BASE.dot`` and ``OUT_BASE.svg`` (``dot -Tsvg``). Input::

    {"networks": [{"bridge", "cidr", "address"}],            # lab_networks (address: controller's)
     "hosts": {NAME: {"address", "groups": [...]}},          # the inventory's hosts (not the guests)
     "san": {HOST: {"portal", "iscsi": [{"name", "luns": [int]}],
                    "aoe": [{"shelf", "slot", "interface"}]}},
     "guests": {NAME: {"address", "hypervisor", "boot_path", "san_host", "target", "lun",
                       "aoe_shelf", "aoe_slot"}},
     "pxe_servers": [NAME]}

Edges: host -- bridge (its address), guest -> hypervisor ("runs on"), guest -> its LUN or AoE
export on its SAN host ("root"), PXE server -> each guest that boots from its NIC. Python 3 stdlib.
"""

import json
import subprocess
import sys

BOOT = {"kernel": "kernel + initrd from the hypervisor",
        "ipxe_iscsi": "PXE -> iPXE sanboot (iSCSI)",
        "pxe_aoe": "PXE -> pxelinux (root on AoE)"}


def q(text):
    """A DOT string literal."""
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def lun_id(host, target, lun):
    return "%s|%s|lun%s" % (host, target, lun)


def aoe_id(host, shelf, slot):
    return "%s|e%s.%s" % (host, shelf, slot)


def short_iqn(name):
    """The part of an IQN after the colon (the whole name when it has none)."""
    return str(name).split(":", 1)[-1]


def san_with_guests(san, guests):
    """``san`` with every guest's root LUN or AoE export added (the SAN host's own list may be missing)."""
    out = {h: {"portal": i.get("portal", "-"), "iscsi": [dict(t, luns=list(t.get("luns", []))) for t in i.get("iscsi", [])],
               "aoe": list(i.get("aoe", []))} for h, i in san.items()}
    for g in guests.values():
        host = g.get("san_host")
        if not host:
            continue
        info = out.setdefault(host, {"portal": "-", "iscsi": [], "aoe": []})
        if g.get("boot_path") == "pxe_aoe":
            if not any((str(e["shelf"]), str(e["slot"])) == (str(g.get("aoe_shelf")), str(g.get("aoe_slot")))
                       for e in info["aoe"]):
                info["aoe"].append({"shelf": g.get("aoe_shelf"), "slot": g.get("aoe_slot"), "interface": "eth0"})
            continue
        target = next((t for t in info["iscsi"] if t["name"] == g.get("target")), None)
        if target is None:
            target = {"name": g.get("target"), "luns": []}
            info["iscsi"].append(target)
        if g.get("lun", 1) not in target["luns"]:
            target["luns"].append(g.get("lun", 1))
    return out


def dot(facts):
    """The DOT text of ``facts`` (see the module docstring)."""
    hosts, guests = facts.get("hosts", {}), facts.get("guests", {})
    san = san_with_guests(facts.get("san", {}), guests)
    pxe = facts.get("pxe_servers", [])
    out = ["digraph sanboot_lab {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9];']
    for net in facts.get("networks", []):
        label = "bridge %s\n%s\ncontroller %s" % (net["bridge"], net.get("cidr", "-"), net.get("address", "-"))
        out.append("  %s [shape=box, style=filled, fillcolor=lightgrey, label=%s];" % (q(net["bridge"]), q(label)))
    bridge = facts["networks"][0]["bridge"] if facts.get("networks") else None
    for name in sorted(hosts):
        host = hosts[name]
        groups = [g for g in host.get("groups", []) if g != "lab_hosts"]
        if name in san:
            continue  # drawn as a cluster below
        label = "%s\n%s\n%s" % (name, host.get("address", "-"), ",".join(groups))
        out.append("  %s [shape=box3d, label=%s];" % (q(name), q(label)))
    for name in sorted(san):
        info, host = san[name], hosts.get(name, {})
        out.append("  subgraph %s {" % q("cluster_" + name))
        label = "%s %s (SAN target, portal %s)" % (name, host.get("address", "-"), info.get("portal", "-"))
        out.append("    label=%s; style=rounded;" % q(label))
        out.append("    %s [shape=cylinder, label=%s];" % (q(name), q("%s\n%s" % (name, host.get("address", "-")))))
        for target in info.get("iscsi", []):
            for lun in target.get("luns", []):
                out.append("    %s [shape=note, label=%s];" % (q(lun_id(name, target["name"], lun)),
                                                               q("iSCSI %s\nLUN %s" % (short_iqn(target["name"]), lun))))
        for exp in info.get("aoe", []):
            out.append("    %s [shape=note, label=%s];" % (q(aoe_id(name, exp["shelf"], exp["slot"])),
                                                           q("AoE e%s.%s on %s" % (exp["shelf"], exp["slot"],
                                                                                   exp.get("interface", "eth0")))))
        out.append("  }")
    if bridge:
        for name in sorted(hosts):
            out.append("  %s -> %s [dir=none, color=grey40, label=%s];"
                       % (q(name), q(bridge), q(hosts[name].get("address", ""))))
    for name in sorted(guests):
        g = guests[name]
        path = g.get("boot_path", "kernel")
        out.append("  %s [shape=component, style=filled, fillcolor=lightyellow, label=%s];"
                   % (q(name), q("%s\n%s\n%s" % (name, g.get("address", "-"), BOOT.get(path, path)))))
        if g.get("hypervisor"):
            out.append("  %s -> %s [label=\"runs on\"];" % (q(name), q(g["hypervisor"])))
        if path == "pxe_aoe":
            root = aoe_id(g.get("san_host"), g.get("aoe_shelf"), g.get("aoe_slot"))
            label = "root AoE e%s.%s" % (g.get("aoe_shelf"), g.get("aoe_slot"))
        else:
            root = lun_id(g.get("san_host"), g.get("target"), g.get("lun", 1))
            label = "root iSCSI LUN %s" % g.get("lun", 1)
        if g.get("san_host"):
            out.append("  %s -> %s [color=blue, label=%s];" % (q(name), q(root), q(label)))
        if path in ("ipxe_iscsi", "pxe_aoe"):
            for server in pxe:
                out.append("  %s -> %s [style=dashed, color=darkgreen, label=\"DHCP + TFTP\"];" % (q(server), q(name)))
    out.append("}")
    return "\n".join(out) + "\n"


def render(dot_text, svg_path):
    """Render ``dot_text`` to ``svg_path`` with Graphviz's ``dot`` (raises when it fails)."""
    subprocess.run(["dot", "-Tsvg", "-o", svg_path], input=dot_text, text=True, check=True, capture_output=True)
    return svg_path


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: sanboot-topology.py OUT_BASE < facts.json\n")
        return 2
    text = dot(json.load(sys.stdin))
    with open(argv[0] + ".dot", "w", encoding="utf-8") as f:
        f.write(text)
    render(text, argv[0] + ".svg")
    print(argv[0] + ".svg")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
