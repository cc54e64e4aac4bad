# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration, the driver contract (private): :class:`MigrationDriver`, the table of the
options each driver honours, and what every driver shares (running commands on a host, facts
from ``/proc/cpuinfo``, ``ip addr`` and iSCSI by-path names).

A driver (``_libvirt``, ``_xl``, ``_xm``) subclasses :class:`MigrationDriver`: ``name`` (the
module's ``driver``), ``OPTIONS`` (the options of :attr:`MigrationDriver.NEUTRAL` it honours),
``option_errors()``, ``gather()``, ``fact_errors()`` (its own checks of those facts),
``migrate()`` (returns stats or raises
:class:`MigrationError`) and ``locate()`` (``{"source": bool, "destination": bool}``);
``gather()`` returns plain facts:

* guest: ``{"name", "found" (runs on the source), "on_destination", "memory_bytes",
  "arch" (or None), "disks": [disk...]}``;
* disk: ``{"kind": "network"|"block"|"file"|"none", "protocol" ("iscsi", ...), "path",
  "portal", "target", "lun", "device" (guest side name)}`` (``describe_path`` fills it
  from a block path);
* host: ``{"name", "reachable", "error", "accepts" (True/False/None = not checked),
  "accept_error", "arch", "vendor", "free_memory_bytes", "addresses" (list or None),
  "paths" ({path: exists} for the guest's block disks, or None), "is_source" (why the
  destination is the source host itself, or absent)}``.

The checks of those facts are in ``_plan``, the flow every driver shares in ``_flow``.
"""

from __future__ import annotations

import abc
import re
import shlex

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon",
           "CentaurHauls": "centaur", "Intel": "intel", "AMD": "amd"}

# udev's name for an iSCSI LUN: /dev/disk/by-path/ip-<addr>:<port>-iscsi-<iqn>-lun-<n>
_BY_PATH = re.compile(r"^/dev/disk/by-path/ip-(?P<portal>\[[^\]]+\]|[^:]+):(?P<port>\d+)"
                      r"-iscsi-(?P<target>.+)-lun-(?P<lun>\d+)(?P<part>-part\d+)?$")


class MigrationError(SanbootError):
    """A migration that did not complete (the flow then checks where the guest is)."""


class MigrationDriver(abc.ABC):
    """One toolstack that moves a guest, and the table of the options it honours.

    :attr:`NEUTRAL` lists every option of ``live_migration`` that not every driver can honour,
    with the value that asks nothing of a driver (the module's default); :attr:`COMMON` the
    options every driver honours.  A driver's ``OPTIONS`` maps each option of ``NEUTRAL`` it
    honours to how it does so.  :meth:`refusals` is the one check: any other option of
    ``NEUTRAL`` set to another value is refused, naming the option and the driver -- never
    ignored (xm with ``tls: true`` would send the guest's memory over plaintext xend
    relocation and report success).
    """

    name = None
    NEUTRAL = {
        "allow_unsafe_tcg": False,
        "announce": "on_resume",
        "bandwidth_mbps": None,
        "destination_uri": None,
        "live": True,
        "max_downtime_ms": None,
        "migrate_uri": None,
        "mode": "live",
        "parallel_connections": None,
        "peer2peer": True,
        "persistent": "move",
        "save_dir": "/var/lib/xen/save",
        "source_uri": None,
        "tls": False,
    }
    COMMON = ("domain", "source", "destination", "driver", "timeout", "storage_network",
              "ssh_command")
    OPTIONS = {}

    @classmethod
    def refusals(cls, params, drivers=()):
        """Errors for the options ``params`` set that this driver cannot honour; ``drivers``
        (every driver class) names the ones that can."""
        errors = []
        for option, neutral in sorted(cls.NEUTRAL.items()):
            value = params.get(option)
            if option in cls.OPTIONS or value is None or value == neutral:
                continue
            able = ", ".join(d.name for d in drivers if option in d.OPTIONS)
            errors.append("%s: the %s driver cannot honour %s=%r (%s)" % (
                option, cls.name, option, value, "only " + able if able else "no driver can"))
        return errors

    def option_errors(self):
        """Errors in the values of the options this driver honours (before any host is asked)."""
        return []

    @abc.abstractmethod
    def gather(self):
        """``(guest, source, destination)`` facts (see the module docstring)."""

    def fact_errors(self, guest, src, dst):
        """This driver's own refusals from the gathered facts (after ``_plan.prechecks``)."""
        return []

    @abc.abstractmethod
    def migrate(self):
        """Move the guest; its statistics (``total_time_ms``... or ``{}``) or MigrationError."""

    @abc.abstractmethod
    def locate(self):
        """``{"source": bool, "destination": bool}``: where the domain runs now."""


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


def version_tuple(number):
    """libvirt's ``getVersion()`` number (major * 1000000 + minor * 1000 + micro) as a tuple."""
    return (number // 1000000, number // 1000 % 1000, number % 1000) if number else None


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
