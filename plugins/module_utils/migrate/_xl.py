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
None and the total time is the wall clock of the command.
"""

from __future__ import annotations

import json

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import (
    Host, MigrationDriver, MigrationError, command_failure, describe_path, with_timeout,
)


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
                "memory_bytes": memkb * 1024 if memkb > 0 else None,
                "disks": [xl_disk(d) for d in config.get("disks") or []]}
    return {"name": name, "found": False, "disks": []}


class XlDriver(MigrationDriver):
    name = tool = "xl"
    # xl migrate is always live and has no downtime, bandwidth or TLS setting (its stream
    # goes through ssh_command): every option of MigrationDriver.NEUTRAL at its neutral value
    OPTIONS = {}

    def __init__(self, runner, params):
        self.p = params
        self.runner = runner
        self.src = Host(runner, params["source"])
        self.dst = Host(runner, params["destination"], params["ssh_command"])

    def host_facts(self, host, paths=()):
        rc, out, err = host.run([self.tool, "info"])
        facts = {"name": host.name, "reachable": rc == 0, "accepts": None}
        if rc != 0:
            facts["error"] = "'%s info' failed (rc=%s): %s" % (
                self.tool, rc, (err or out).strip() or "no output")
            return facts
        facts["free_memory_bytes"], facts["arch"] = host_memory_arch(parse_info(out))
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
        timeout = self.p.get("timeout")
        rc, out, err = self.runner(with_timeout(self.migrate_argv(), timeout), check=False)
        if rc != 0:
            raise MigrationError(command_failure("%s migrate" % self.tool, rc, out, err, timeout))
        return {}

    def locate(self):
        return {"source": self.running(self.src), "destination": self.running(self.dst)}
