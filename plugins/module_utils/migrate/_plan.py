# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration, the checks (private, pure): the options alone (:func:`validate`, before any
host is asked and before libvirt is loaded) and the facts a driver gathered
(:func:`prechecks`, :func:`tcg_errors`), each as a list of clear messages (empty: go).

:data:`DRIVERS` are the driver classes by the module's ``driver`` value; which driver honours
which option is their ``OPTIONS`` table (``_driver.MigrationDriver``), read here and nowhere
else.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from urllib.parse import urlsplit

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import MigrationDriver
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._libvirt import LibvirtDriver
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._xl import XlDriver
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._xm import XmDriver

DRIVERS = dict((cls.name, cls) for cls in (LibvirtDriver, XlDriver, XmDriver))

# QEMU's migration parameter multifd-channels is a uint8 checked to 1..255 (migration/options.c)
MAX_PARALLEL_CONNECTIONS = 255

# The table seen by option: (drivers that honour it, the value that asks nothing).
DRIVER_OPTIONS = dict(
    (option, (tuple(name for name, cls in DRIVERS.items() if option in cls.OPTIONS), neutral))
    for option, neutral in MigrationDriver.NEUTRAL.items())


def disk_label(disk):
    if disk.get("protocol") == "iscsi" and disk.get("target"):
        return "iSCSI %s LUN %s on %s" % (disk["target"], disk.get("lun"), disk.get("portal"))
    return "%s disk %s" % (disk.get("kind"), disk.get("path") or disk.get("device"))


def disk_problem(disk, dst):
    """Why ``disk`` cannot follow the guest to ``dst`` (None when it is shared storage)."""
    kind = disk.get("kind")
    if kind == "none":
        return None
    if kind == "network":
        if disk.get("protocol") in ("iscsi", "nbd", "rbd", "sheepdog", "gluster", "http",
                                    "https", "ftp", "ftps", "tftp", "nfs", "ssh", "vxhs"):
            return None
        return "disk %s uses network protocol %r, not known to be shared" % (
            disk.get("device") or disk.get("path"), disk.get("protocol"))
    if disk.get("protocol") == "iscsi":
        paths = dst.get("paths")
        if paths is not None and not paths.get(disk["path"]):
            return ("disk %s: the destination %s has no %s (not logged in to %s LUN %s)"
                    % (disk.get("device") or "", dst.get("name"), disk["path"],
                       disk["target"], disk["lun"]))
        return None
    return ("disk %s is a local %s %s: it is not shared storage the destination can reach "
            "(put it on an iSCSI LUN both hosts use)" % (
                disk.get("device") or "", kind, disk.get("path")))


def _in_network(addresses, network):
    out = []
    for addr in addresses or []:
        try:
            if ipaddress.ip_address(addr.strip("[]").split("%")[0]) in network:
                out.append(addr)
        except ValueError:
            continue
    return out


def prechecks(guest, src, dst, storage_network=None):
    """Messages for every failed check, in the order an admin fixes them (empty: go)."""
    errors = []
    if not src.get("reachable", True):
        return ["source %s cannot be queried: %s" % (src.get("name"), src.get("error"))]
    if not guest.get("found"):
        return ["domain %r does not run on the source %s" % (guest.get("name"), src.get("name"))]
    if dst.get("is_source"):
        return ["destination %s is the source itself (%s)" % (dst.get("name"), dst["is_source"])]
    if not dst.get("reachable"):
        return ["destination %s is not reachable: %s" % (dst.get("name"), dst.get("error"))]
    if dst.get("accepts") is False:
        errors.append("destination %s does not accept migrations: %s"
                      % (dst.get("name"), dst.get("accept_error")))
    if guest.get("on_destination"):
        errors.append("a domain named %r already runs on the destination %s"
                      % (guest.get("name"), dst.get("name")))
    if src.get("arch") and dst.get("arch") and src["arch"] != dst["arch"]:
        errors.append("CPU architecture differs: source %s is %s, destination %s is %s"
                      % (src["name"], src["arch"], dst["name"], dst["arch"]))
    if src.get("vendor") and dst.get("vendor") and src["vendor"] != dst["vendor"]:
        errors.append("CPU vendor differs: source %s is %s, destination %s is %s (a running "
                      "guest cannot move between Intel and AMD CPUs)"
                      % (src["name"], src["vendor"], dst["name"], dst["vendor"]))
    need, free = guest.get("memory_bytes"), dst.get("free_memory_bytes")
    if need is not None and free is not None and free < need:
        errors.append("not enough free memory on the destination %s: the guest needs %d MiB, "
                      "%d MiB free" % (dst["name"], need // 1048576, free // 1048576))
    for disk in guest.get("disks") or []:
        problem = disk_problem(disk, dst)
        if problem:
            errors.append(problem)
    if storage_network:
        net = ipaddress.ip_network(storage_network, strict=False)
        for host in (src, dst):
            if host.get("addresses") is None:
                errors.append("storage_network: the addresses of %s are unknown" % host["name"])
            elif not _in_network(host["addresses"], net):
                errors.append("host %s has no address on the storage network %s (it has %s)"
                              % (host["name"], net, ", ".join(host["addresses"]) or "none"))
        for disk in guest.get("disks") or []:
            portal = disk.get("portal")
            if portal and not _in_network([portal], net):
                errors.append("%s: portal %s is not on the storage network %s"
                              % (disk_label(disk), portal, net))
    return errors


# QEMU releases before this one lose guest writes in a live (pre-copy) migration under TCG:
# measured here with Debian 12's QEMU 7.2 (python -m bench migration_stress, docs/migration.md):
# the fast path of the dirty-bitmap sync clears the migration bits without resetting the TCG
# TLB's "not dirty" traps, so pages the vCPU keeps in its TLB (per-CPU timer queues, virtio
# rings) are written after their last copy and arrive stale; the guest oopses or hangs seconds
# after the move. 10.0.2 (Debian bookworm-backports) was measured correct.
TCG_SAFE_QEMU = (10, 0, 0)


def tcg_errors(guest, src, params):
    """Refuse a live migration of a TCG guest on a QEMU that loses its writes (issue 8)."""
    version = src.get("hypervisor_version")
    if not params.get("live", True) or guest.get("domain_type") != "qemu" or version is None:
        return []
    if version >= TCG_SAFE_QEMU or params.get("allow_unsafe_tcg"):
        return []
    safe = ".".join(map(str, TCG_SAFE_QEMU[:2]))
    return ["domain %r runs under TCG (domain type 'qemu') on QEMU %s on the source: QEMU before "
            "%s loses guest writes during a live migration under TCG (the guest's memory arrives "
            "corrupted: oops, panic or hang after the move). Use QEMU %s or newer (Debian 12: "
            "bookworm-backports), live=false (the guest pauses for the whole copy), or "
            "allow_unsafe_tcg=true" % (guest.get("name"), ".".join(map(str, version)), safe, safe)]


_HOST = re.compile(r"^[A-Za-z0-9_[][A-Za-z0-9_.@%:\[\]-]*\Z")
_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def _uri_errors(name, value):
    if _CONTROL.search(value):
        return ["%s: %r contains whitespace or control characters" % (name, value)]
    if "://" not in value:
        return []
    try:
        parts = urlsplit(value)
        host, user = parts.hostname, parts.username
    except ValueError as exc:
        return ["%s: %r is not a URI: %s" % (name, value, exc)]
    out = []
    for what, part in (("host", host), ("user", user)):
        if part and part.startswith("-"):
            out.append("%s: the %s %r of %r starts with '-' (it would reach ssh as an option)"
                       % (name, what, part, value))
    return out


def name_errors(params):
    """Host names, the domain name and URIs that would reach a command line as options or
    break one: a leading '-', whitespace, control or shell characters."""
    errors = []
    for name in ("source", "destination", "domain"):
        value = params.get(name)
        if value is None:
            continue
        if value.startswith("-"):
            errors.append("%s: %r starts with '-': it would reach ssh/xl/xm as an option"
                          % (name, value))
        elif name != "domain" and not _HOST.match(value):
            errors.append("%s: %r is not a host name or address (letters, digits, '.', '-', '_', "
                          "':', '[', ']', '%%' and user@ only: no whitespace, control or shell "
                          "characters)" % (name, value))
        elif name == "domain" and re.search(r"[\x00-\x1f\x7f]", value):
            errors.append("domain: %r contains control characters" % value)
    for name in ("source_uri", "destination_uri", "migrate_uri"):
        if params.get(name):
            errors.extend(_uri_errors(name, params[name]))
    ssh = params.get("ssh_command")
    if ssh is not None:
        try:
            words = shlex.split(ssh)
        except ValueError as exc:
            words, bad = [], str(exc)
        else:
            bad = None
        if bad or not words or re.search(r"[\x00-\x1f\x7f]", ssh):
            errors.append("ssh_command: %r is not a command (one line, split like a shell would)"
                          % ssh)
    return errors


def argument_spec():
    """The options of the module ``live_migration`` (documented there)."""
    return dict(
        domain=dict(type="str", required=True), source=dict(type="str", required=True),
        destination=dict(type="str", required=True),
        driver=dict(type="str", choices=["libvirt", "xl", "xm"], default="libvirt"),
        live=dict(type="bool", default=True), peer2peer=dict(type="bool", default=True),
        tls=dict(type="bool", default=False), allow_unsafe_tcg=dict(type="bool", default=False),
        max_downtime_ms=dict(type="int"), bandwidth_mbps=dict(type="int"),
        parallel_connections=dict(type="int"),
        timeout=dict(type="int", default=300), storage_network=dict(type="str"),
        source_uri=dict(type="str"), destination_uri=dict(type="str"), migrate_uri=dict(type="str"),
        persistent=dict(type="str", choices=["move", "keep"], default="move"),
        announce=dict(type="str", choices=["on_resume", "at_switchover"], default="on_resume"),
        ssh_command=dict(type="str", default="ssh -o BatchMode=yes"),
        mode=dict(type="str", choices=["live", "cold"], default="live"),
        save_dir=dict(type="path", default="/var/lib/xen/save"),
    )


def validate(params):
    """Errors in the options alone (before any host is asked, before libvirt is loaded)."""
    errors = name_errors(params)
    if params["source"] == params["destination"]:
        errors.append("destination: %r is the source itself" % params["destination"])
    for name in ("max_downtime_ms", "bandwidth_mbps", "timeout"):
        if params.get(name) is not None and params[name] <= 0:
            errors.append("%s: must be a positive number, got %r" % (name, params[name]))
    parallel = params.get("parallel_connections")
    if parallel is not None and not 1 <= parallel <= MAX_PARALLEL_CONNECTIONS:
        errors.append("parallel_connections: must be 1 to %d (QEMU's multifd-channels), got %r"
                      % (MAX_PARALLEL_CONNECTIONS, parallel))
    driver = DRIVERS[params.get("driver") or "libvirt"]
    errors.extend(driver.refusals(params, DRIVERS.values()))
    if params.get("storage_network"):
        try:
            ipaddress.ip_network(params["storage_network"], strict=False)
        except ValueError as exc:
            errors.append("storage_network: %s" % exc)
    return errors
