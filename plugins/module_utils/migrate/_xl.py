# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration with the xl toolstack (private).

Runs on the SOURCE dom0.  Facts come from ``xl info`` (``key : value`` lines; ``machine``,
``free_memory`` in MiB) and ``xl list -l DOMAIN`` (JSON: a list of ``{"domid", "config":
{"c_info", "b_info", "disks", "nics"}}``, the libxl_domain_config of the domain; xl.conf
``output_format="json"``, the default since Xen 4.2).  The destination is asked through the
same ssh command ``xl migrate -s`` uses: if ``xl info`` answers there, ``xl migrate-receive``
will run too.  The move itself is ``xl migrate -s SSH DOMAIN HOST`` (xl(1)); xl renames the
source domain ``DOMAIN--migratedaway`` while it sends and resumes it under its name when the
transfer fails.  xl keeps no job statistics: ``downtime_ms`` and ``transferred_bytes`` stay
None and the total time is the wall clock of the command.  ``mode: cold`` moves the guest with
``xl save`` / copy / ``xl restore`` instead (``_xl_cold``).

A live move of a PV guest needs the source hypervisor's shadow paging (log-dirty mode; Xen's
xen/arch/x86/Kconfig, SHADOW_PAGING: "needed for PV guests' live migration"); Debian's Xen is
built without it and ``xl migrate`` then fails with ``xc: error: Failed to enable logdirty:
95,22,0``.  Since Xen 4.14 ``xl info``'s ``virt_caps`` lists ``hap`` and ``shadow``
(XEN_SYSCTL_PHYSCAP_*): :func:`live_paging_errors` refuses such a move before it starts.  Older
xl prints ``virt_caps`` too, without those words: there nothing is decided.
"""

from __future__ import annotations

import json

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import (
    Host, MigrationDriver, MigrationError, command_failure, describe_path, with_timeout,
)
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._xl_cold import (
    cold_move, cold_option_errors,
)

# the first Xen whose ``xl info`` virt_caps names the paging modes (hap, shadow)
PAGING_CAPS_SINCE = (4, 14)


def parse_info(text):
    """``xl info`` / ``xm info`` output -> dict of str (keys as printed)."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info.setdefault(key.strip(), value.strip())
    return info


def host_memory_arch(info):
    """``(free_memory_bytes, arch)`` from parsed ``xl info`` (free_memory is MiB)."""
    free = info.get("free_memory")
    free = int(free) * 1048576 if free and free.isdigit() else None
    return free, info.get("machine") or None


def paging_caps(info):
    """The words of ``virt_caps`` (parsed ``xl info``) when this Xen lists its paging modes
    there (4.14 and later), else None: cannot tell."""
    words = info.get("virt_caps")
    try:
        version = (int(info["xen_major"]), int(info["xen_minor"]))
    except (KeyError, ValueError):
        return None
    return words.split() if words is not None and version >= PAGING_CAPS_SINCE else None


def live_paging_errors(guest, src, mode="live"):
    """Refuse a live move the source hypervisor cannot do: a PV guest needs shadow paging, an
    HVM/PVH guest hap or shadow (log-dirty mode).  ``src["virt_caps"]``: :func:`paging_caps`."""
    caps = src.get("virt_caps")
    if mode != "live" or caps is None or not guest.get("found"):
        return []
    kind = guest.get("type") or "pv"
    if "shadow" in caps or (kind != "pv" and "hap" in caps):
        return []
    if kind == "pv":
        why = "the hypervisor was built without shadow paging (virt_caps: %s; Xen " \
              "CONFIG_SHADOW_PAGING): a PV guest" % " ".join(caps)
        fix = "boot a hypervisor built with CONFIG_SHADOW_PAGING=y"
    else:
        why = "the hypervisor offers neither hardware-assisted paging (hap) nor shadow paging " \
              "(virt_caps: %s): a %s guest" % (" ".join(caps), kind.upper())
        fix = "enable hap (VT-x EPT / AMD NPT) or boot a hypervisor built with " \
              "CONFIG_SHADOW_PAGING=y"
    return ["source %s: %s cannot be live-migrated from it (log-dirty mode; xl migrate would "
            "fail with 'Failed to enable logdirty: 22'). Use mode=cold (xl save / copy / xl "
            "restore), or %s." % (src.get("name"), why, fix)]


def parse_block_iscsi(target):
    """The ``target=`` of xen's block-iscsi script: ``iqn=IQN,portal=IP[:PORT]``."""
    fields = dict(part.split("=", 1) for part in target.split(",") if "=" in part)
    portal = fields.get("portal", "")
    host, _sep, port = portal.rpartition(":") if portal.count(":") == 1 else (portal, "", "")
    return {"kind": "network", "protocol": "iscsi", "path": target,
            "target": fields.get("iqn"), "lun": int(fields.get("lun", 0) or 0),
            "portal": host or portal, "port": int(port) if port.isdigit() else 3260}


def xl_disk(disk):
    """One libxl disk (JSON) -> a disk dict of ``_driver``."""
    path = disk.get("pdev_path") or disk.get("target") or ""
    device = disk.get("vdev")
    if disk.get("is_cdrom") and not path:
        out = {"kind": "none"}
    elif (disk.get("script") or "").endswith("block-iscsi"):
        out = parse_block_iscsi(path)
    elif path.startswith("/dev/"):
        out = describe_path(path)
    else:
        out = {"kind": "file", "protocol": None, "path": path}
    out["device"] = device
    return out


def guest_facts(name, doms):
    """Guest facts from parsed ``xl list -l`` JSON (``doms``: list, maybe empty)."""
    for dom in doms or []:
        config = dom.get("config") or {}
        if (config.get("c_info") or {}).get("name") != name:
            continue
        b_info = config.get("b_info") or {}
        memkb = b_info.get("target_memkb") or -1
        if memkb <= 0:
            memkb = b_info.get("max_memkb") or 0
        return {"name": name, "found": True, "domid": dom.get("domid"),
                "type": config["c_info"].get("type") or "pv",
                "memory_bytes": memkb * 1024 if memkb > 0 else None,
                "disks": [xl_disk(d) for d in config.get("disks") or []]}
    return {"name": name, "found": False, "disks": []}


class XlDriver(MigrationDriver):
    name = tool = "xl"
    # xl migrate is always live and has no downtime, bandwidth or TLS setting (its stream
    # goes through ssh_command); mode=cold is xl save / copy / xl restore (_xl_cold)
    OPTIONS = {"mode": "cold: xl save, copy over ssh_command, xl restore",
               "save_dir": "where the save file of mode=cold is written on both hosts"}

    def __init__(self, runner, params):
        self.p = params
        self.runner = runner
        self.src = Host(runner, params["source"])
        self.dst = Host(runner, params["destination"], params["ssh_command"])

    def option_errors(self):
        return cold_option_errors(self.p)

    def fact_errors(self, guest, src, dst):
        return live_paging_errors(guest, src, self.p.get("mode") or "live")

    def host_facts(self, host, paths=()):
        rc, out, err = host.run([self.tool, "info"])
        facts = {"name": host.name, "reachable": rc == 0, "accepts": None}
        if rc != 0:
            facts["error"] = "'%s info' failed (rc=%s): %s" % (
                self.tool, rc, (err or out).strip() or "no output")
            return facts
        info = parse_info(out)
        facts["free_memory_bytes"], facts["arch"] = host_memory_arch(info)
        facts["virt_caps"] = paging_caps(info)
        facts["vendor"] = host.vendor()
        facts["addresses"] = host.addresses() if self.p.get("storage_network") else None
        facts["paths"] = host.paths(paths)
        return facts

    def list_guest(self, host):
        rc, out, _err = host.run([self.tool, "list", "-l", self.p["domain"]])
        if rc != 0:
            return {"name": self.p["domain"], "found": False, "disks": []}
        try:
            return guest_facts(self.p["domain"], json.loads(out or "[]"))
        except ValueError:
            raise MigrationError("'xl list -l' did not print JSON: set output_format=\"json\" "
                                 "in /etc/xen/xl.conf")

    def running(self, host):
        rc, _out, _err = host.run([self.tool, "domid", self.p["domain"]])
        return rc == 0

    def gather(self):
        src = self.host_facts(self.src)
        guest = self.list_guest(self.src) if src["reachable"] else {"found": False}
        guest["name"] = self.p["domain"]
        paths = [d["path"] for d in guest.get("disks", []) if d.get("protocol") == "iscsi"
                 and d.get("kind") == "block"]
        dst = self.host_facts(self.dst, paths)
        guest["on_destination"] = dst["reachable"] and self.running(self.dst)
        if dst["reachable"]:
            dst["accepts"] = True
        return guest, src, dst

    def migrate_argv(self):
        # xl runs "SSH_COMMAND HOST xl migrate-receive" through /bin/sh: '--' ends ssh's options
        return [self.tool, "migrate", "-s", self.p["ssh_command"] + " --", self.p["domain"],
                self.p["destination"]]

    def migrate(self):
        if (self.p.get("mode") or "live") == "cold":
            return cold_move(self)
        timeout = self.p.get("timeout")
        rc, out, err = self.runner(with_timeout(self.migrate_argv(), timeout), check=False)
        if rc != 0:
            raise MigrationError(command_failure("%s migrate" % self.tool, rc, out, err, timeout))
        return {}

    def locate(self):
        return {"source": self.running(self.src), "destination": self.running(self.dst)}
