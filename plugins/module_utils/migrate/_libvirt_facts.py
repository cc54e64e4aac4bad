# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What libvirt tells about a migration, parsed (private, pure; no libvirt needed).

The domain XML (memory, ``<os><type arch>``, disks), a host's capabilities XML
(``host/cpu/arch``, ``host/cpu/vendor``, ``host/uuid``), the statistics of a completed job
(``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)``, as ``virsh domjobinfo --completed``), the
destination's free migration ports (qemu.conf ``migration_port_min``/``_max``, ``ss -Hltn``)
and the parts of a libvirt URI.  The driver that asks for them is ``_libvirt``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import (
    describe_path, normalise_vendor,
)

_UNITS = {"b": 1, "bytes": 1, "KB": 1000, "k": 1024, "KiB": 1024, "MB": 10 ** 6, "M": 1024 ** 2,
          "MiB": 1024 ** 2, "GB": 10 ** 9, "G": 1024 ** 3, "GiB": 1024 ** 3}


def _memory_bytes(elem):
    if elem is None or not (elem.text or "").strip():
        return None
    return int(elem.text.strip()) * _UNITS.get(elem.get("unit", "KiB"), 1024)


def parse_disk(elem):
    """One ``<disk>`` element -> a disk dict of ``_driver``."""
    kind = elem.get("type", "file")
    source = elem.find("source")
    target = elem.find("target")
    device = target.get("dev") if target is not None else None
    if source is None:
        return {"kind": "none", "device": device}
    if kind == "network":
        name = source.get("name", "")
        host = source.find("host")
        out = {"kind": "network", "protocol": source.get("protocol"), "path": name,
               "portal": host.get("name") if host is not None else None,
               "port": int(host.get("port", 3260)) if host is not None else None}
        if out["protocol"] == "iscsi":
            iqn, _sep, lun = name.rpartition("/")
            out.update(target=iqn or name, lun=int(lun) if lun.isdigit() else 0)
    elif kind == "block":
        out = describe_path(source.get("dev"))
    elif kind == "volume":
        out = {"kind": "volume", "protocol": None,
               "path": "%s/%s" % (source.get("pool"), source.get("volume"))}
    else:
        out = {"kind": kind, "protocol": None,
               "path": source.get("file") or source.get("dir") or source.get("name")}
    out["device"] = device
    return out


def parse_domain_xml(text):
    """``{"memory_bytes", "arch", "disks"}`` of a domain XML."""
    root = ET.fromstring(text)
    ostype = root.find("os/type")
    memory = _memory_bytes(root.find("currentMemory"))
    return {"memory_bytes": memory if memory is not None else _memory_bytes(root.find("memory")),
            "domain_type": root.get("type"),
            "arch": ostype.get("arch") if ostype is not None else None,
            "disks": [parse_disk(d) for d in root.findall("devices/disk")]}


def parse_capabilities(text):
    """``{"arch", "vendor", "uuid"}`` of a host from ``getCapabilities()`` XML."""
    root = ET.fromstring(text)
    return {"arch": root.findtext("host/cpu/arch"),
            "vendor": normalise_vendor(root.findtext("host/cpu/vendor")),
            "uuid": root.findtext("host/uuid")}


def bandwidth_mib(mbps):
    """Megabits/s (10^6 bit/s) -> libvirt's MiB/s, rounded up, at least 1."""
    return max(1, -(-int(mbps) * 10 ** 6 // (8 * 1048576)))


def job_result(stats):
    """Our result fields from a libvirt job statistics dict (ms, bytes)."""
    out = {}
    if stats.get("time_elapsed") is not None:
        out["total_time_ms"] = int(stats["time_elapsed"])
    if stats.get("downtime") is not None:
        out["downtime_ms"] = int(stats["downtime"])
    data = stats.get("data_processed")
    if data is None and stats.get("memory_processed") is not None:
        data = stats["memory_processed"] + stats.get("disk_processed", 0)
    if data is not None:
        out["transferred_bytes"] = int(data)
    for key in JOB_STATS:
        if stats.get(key) is not None:
            out[key] = stats[key]
    return out


# what jobStats() tells about where the time and the bytes of a migration went, passed through
# under libvirt's names (virDomainGetJobStats, VIR_DOMAIN_JOB_*): milliseconds (setup_time,
# downtime_net, time_elapsed_net), bytes (data_*, memory_total/processed/remaining,
# memory_normal_bytes), pages (memory_constant: zero pages QEMU sends as a flag,
# memory_normal: pages sent in full), bytes/s (memory_bps, memory_dirty_rate: pages/s),
# memory_iteration: the pre-copy passes (QEMU's dirty-sync-count)
JOB_STATS = ("setup_time", "downtime_net", "time_elapsed_net", "data_total", "data_remaining",
             "memory_total", "memory_processed", "memory_remaining", "memory_constant",
             "memory_normal", "memory_normal_bytes", "memory_bps", "memory_dirty_rate",
             "memory_iteration", "memory_page_size", "memory_postcopy_requests",
             "auto_converge_throttle")


# qemu.conf defaults (libvirt 9): the ports an incoming migration may listen on
QEMU_PORT_RANGE = (49152, 49215)


def qemu_port_range(conf_text):
    """``(min, max)`` of ``migration_port_min``/``_max`` in qemu.conf text (defaults if unset)."""
    found = dict(zip(("migration_port_min", "migration_port_max"), QEMU_PORT_RANGE))
    for line in (conf_text or "").splitlines():
        key, sep, value = line.split("#", 1)[0].partition("=")
        if sep and key.strip() in found and value.strip().isdigit():
            found[key.strip()] = int(value.strip())
    return found["migration_port_min"], found["migration_port_max"]


def listening_ports(ss_text):
    """TCP ports in LISTEN state from ``ss -Hltn`` output (local address in column 4)."""
    ports = set()
    for line in ss_text.splitlines():
        words = line.split()
        if len(words) >= 4 and words[3].rpartition(":")[2].isdigit():
            ports.add(int(words[3].rpartition(":")[2]))
    return ports


def port_problem(listening, port_range, port=None):
    """Why no incoming migration can listen on the destination (None when one can).

    With an explicit ``port`` (``migrate_uri`` tcp://ADDR:PORT) that port must be free; else
    at least one port of qemu.conf's ``migration_port_min``..``max`` (libvirt takes the first
    free one and fails the migration with "Unable to find an unused port" when none is).
    """
    if port is not None:
        if port in listening:
            return ("migration port %d is already taken by another process on the "
                    "destination" % port)
        return None
    low, high = port_range
    if all(p in listening for p in range(low, high + 1)):
        return ("every migration port %d-%d (qemu.conf migration_port_min/max) is already "
                "taken on the destination" % (low, high))
    return None


def uri_host(uri):
    """``(transport, user, host)`` of a libvirt URI (host None for a local URI)."""
    parts = urlsplit(uri)
    transport = parts.scheme.partition("+")[2] or None
    return transport, parts.username, parts.hostname


def available_memory_bytes(stats, free_bytes):
    """Bytes a new guest can get: ``free + buffers + cached`` of libvirt's node memory statistics
    (KiB), or ``free_bytes`` (``getFreeMemory()``) when the statistics are missing or incomplete."""
    try:
        return sum(int(stats[key]) for key in ("free", "buffers", "cached")) * 1024
    except (TypeError, KeyError, ValueError):
        return free_bytes
