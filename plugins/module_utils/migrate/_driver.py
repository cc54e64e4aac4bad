# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration, shared part (private): facts, prechecks, the flow and the result.

A driver (``_migrate_libvirt``, ``_migrate_xl``, ``_migrate_xm``) has ``option_errors()``,
``gather()``, ``migrate()`` (returns stats or raises :class:`MigrationError`) and ``locate()``
(``{"source": bool, "destination": bool}``); ``gather()`` returns plain facts:

* guest: ``{"name", "found" (runs on the source), "on_destination", "memory_bytes",
  "arch" (or None), "disks": [disk...]}``;
* disk: ``{"kind": "network"|"block"|"file"|"none", "protocol" ("iscsi", ...), "path",
  "portal", "target", "lun", "device" (guest side name)}`` (``describe_path`` fills it
  from a block path);
* host: ``{"name", "reachable", "error", "accepts" (True/False/None = not checked),
  "accept_error", "arch", "vendor", "free_memory_bytes", "addresses" (list or None),
  "paths" ({path: exists} for the guest's block disks, or None), "is_source" (why the
  destination is the source host itself, or absent)}``.

:func:`prechecks` turns them into a list of clear messages (pure; unit-tested), and
:func:`run` is the flow every driver shares: checks, check mode, migrate, verify, report.
Nothing touches the guest before every check has passed.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import time
from urllib.parse import urlsplit

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon",
           "CentaurHauls": "centaur", "Intel": "intel", "AMD": "amd"}

# udev's name for an iSCSI LUN: /dev/disk/by-path/ip-<addr>:<port>-iscsi-<iqn>-lun-<n>
_BY_PATH = re.compile(r"^/dev/disk/by-path/ip-(?P<portal>\[[^\]]+\]|[^:]+):(?P<port>\d+)"
                      r"-iscsi-(?P<target>.+)-lun-(?P<lun>\d+)(?P<part>-part\d+)?$")


class MigrationError(SanbootError):
    """A migration that did not complete (the flow then checks where the guest is)."""


def cpu_vendor(cpuinfo):
    """Normalised vendor (``intel``/``amd``/...) from ``/proc/cpuinfo`` text, or None."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "vendor_id":
            value = value.strip()
            return VENDORS.get(value, value.lower() or None)
    return None


def normalise_vendor(value):
    """``Intel`` (libvirt capabilities) or ``GenuineIntel`` (cpuinfo) -> ``intel``."""
    if not value:
        return None
    return VENDORS.get(value, value.lower())


def parse_ip_addr(text):
    """Addresses (without prefix) from ``ip -o addr show`` output."""
    found = []
    for line in text.splitlines():
        words = line.split()
        for i, word in enumerate(words[:-1]):
            if word in ("inet", "inet6"):
                found.append(words[i + 1].split("/")[0])
    return found


def describe_path(path):
    """A disk dict for a block/file ``path``: iSCSI by-path names are network disks."""
    m = _BY_PATH.match(path or "")
    if m:
        return {"kind": "block", "protocol": "iscsi", "path": path,
                "portal": m.group("portal").strip("[]"), "port": int(m.group("port")),
                "target": m.group("target"), "lun": int(m.group("lun"))}
    return {"kind": "block", "protocol": None, "path": path}


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


def version_tuple(number):
    """libvirt's ``getVersion()`` number (major * 1000000 + minor * 1000 + micro) as a tuple."""
    return (number // 1000000, number // 1000 % 1000, number % 1000) if number else None


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


# Options that not every driver can honour: (drivers that can, the value that asks nothing).
# Any other value with another driver is refused, never ignored (xm with tls=true would send the
# guest's memory over plaintext xend relocation and report success).
DRIVER_OPTIONS = {
    "announce": (("libvirt",), "on_resume"),
    "tls": (("libvirt",), False),
    "max_downtime_ms": (("libvirt",), None),
    "bandwidth_mbps": (("libvirt", "xm"), None),
    "live": (("libvirt", "xm"), True),
    "peer2peer": (("libvirt",), True),
    "persistent": (("libvirt",), "move"),
    "source_uri": (("libvirt",), None),
    "destination_uri": (("libvirt",), None),
    "migrate_uri": (("libvirt",), None),
    "allow_unsafe_tcg": (("libvirt",), False),
}


def validate(params):
    """Errors in the options alone (before any host is asked, before libvirt is loaded)."""
    errors = name_errors(params)
    if params["source"] == params["destination"]:
        errors.append("destination: %r is the source itself" % params["destination"])
    for name in ("max_downtime_ms", "bandwidth_mbps", "timeout"):
        if params.get(name) is not None and params[name] <= 0:
            errors.append("%s: must be a positive number, got %r" % (name, params[name]))
    driver = params.get("driver") or "libvirt"
    for name, (drivers, default) in sorted(DRIVER_OPTIONS.items()):
        value = params.get(name)
        if driver not in drivers and value is not None and value != default:
            errors.append("announce: at_switchover is for the libvirt driver" if name == "announce"
                          else "%s: the %s driver cannot honour %s=%r (only %s)" % (
                              name, driver, name, value, ", ".join(drivers)))
    if params.get("storage_network"):
        try:
            ipaddress.ip_network(params["storage_network"], strict=False)
        except ValueError as exc:
            errors.append("storage_network: %s" % exc)
    return errors


def with_timeout(argv, timeout):
    """``argv`` under coreutils ``timeout`` (TERM, then KILL 10 s later); rc 124 = timed out."""
    if not timeout:
        return list(argv)
    return ["timeout", "--kill-after=10", str(int(timeout))] + list(argv)


def command_failure(what, rc, out, err, timeout=None):
    """MigrationError text for a failed migration command."""
    if timeout and rc in (124, 137):
        return "%s timed out after %s s and was aborted" % (what, timeout)
    tail = (err or out or "").strip().splitlines()[-3:]
    return "%s failed (rc=%s): %s" % (what, rc, " | ".join(tail))


class Host(object):
    """Run commands on one host: locally (``ssh`` None) or through an ssh command."""

    def __init__(self, runner, name, ssh=None):
        self.runner, self.name = runner, name
        self.ssh = shlex.split(ssh) if isinstance(ssh, str) else ssh

    def run(self, argv):
        """``(rc, out, err)`` of ``argv`` on the host (never fails the module)."""
        if self.ssh:
            # '--': a host name can never be read as an ssh option
            argv = self.ssh + ["--", self.name, " ".join(shlex.quote(str(a)) for a in argv)]
        return self.runner(argv, check=False)

    def addresses(self):
        rc, out, _err = self.run(["ip", "-o", "addr", "show"])
        return parse_ip_addr(out) if rc == 0 else None

    def vendor(self):
        rc, out, _err = self.run(["cat", "/proc/cpuinfo"])
        return cpu_vendor(out) if rc == 0 else None

    def paths(self, paths):
        """``{path: exists}`` for block paths, asked in one command."""
        if not paths:
            return {}
        script = "for p; do if [ -e \"$p\" ]; then echo 1; else echo 0; fi; done"
        rc, out, _err = self.run(["sh", "-c", script, "sh"] + list(paths))
        answers = out.split()
        if rc != 0 or len(answers) != len(paths):
            return None
        return dict((path, answer == "1") for path, answer in zip(paths, answers))


def run(module, driver):
    """The shared flow for ``driver`` (see the module docstring)."""
    p = module.params
    errors = validate(p) + driver.option_errors()
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors, changed=False)
    try:
        guest, src, dst = driver.gather()
    except MigrationError as exc:
        module.fail_json(msg="precheck failed, guest not touched: %s" % exc, changed=False)
    result = dict(changed=False, domain=p["domain"], source=p["source"],
                  destination=p["destination"], driver=p["driver"])
    if not guest.get("found") and guest.get("on_destination") and src.get("reachable", True):
        result.update(location="destination", msg="domain already runs on the destination")
        module.exit_json(**result)
    errors = prechecks(guest, src, dst, p.get("storage_network"))
    errors += tcg_errors(guest, src, p) if guest.get("found") else []
    if errors:
        module.fail_json(msg="precheck failed, guest not touched: " + "; ".join(errors),
                         errors=errors, location="source" if guest.get("found") else None,
                         **result)
    result.update(changed=True, checks="passed", location="source")
    if module._diff:
        result["diff"] = {"before": "%s runs on %s\n" % (p["domain"], p["source"]),
                          "after": "%s runs on %s\n" % (p["domain"], p["destination"])}
    if module.check_mode:
        module.exit_json(msg="prechecks passed (check mode: not migrated)", **result)
    started = time.time()
    try:
        stats = driver.migrate()
        failure = None
    except MigrationError as exc:
        stats, failure = {}, str(exc)
    wall_ms = int(round((time.time() - started) * 1000))
    where = driver.locate()
    settle = time.time() + 15  # after an abort the destination may still tear its domain down
    while failure is not None and bool(where.get("source")) == bool(where.get("destination")) \
            and time.time() < settle:
        time.sleep(0.5)
        where = driver.locate()
    if failure is None and where.get("destination") and not where.get("source"):
        result.update(location="destination", wall_time_ms=wall_ms,
                      total_time_ms=stats.get("total_time_ms", wall_ms),
                      total_time_from=("hypervisor" if "total_time_ms" in stats else "wall clock"),
                      downtime_ms=stats.get("downtime_ms"),
                      transferred_bytes=stats.get("transferred_bytes"),
                      stats=stats)
        module.exit_json(**result)
    if where.get("source") and not where.get("destination"):
        location = "source"
        msg = "migration failed; the guest still runs on the source %s" % p["source"]
    else:
        location = "unknown"
        msg = "migration state unclear: running on source=%s, destination=%s" % (
            where.get("source"), where.get("destination"))
    module.fail_json(msg="%s: %s" % (msg, failure or "the guest did not arrive"),
                     location=location, wall_time_ms=wall_ms, changed=location != "source",
                     **dict((k, v) for k, v in result.items() if k not in ("changed",
                                                                           "location")))
