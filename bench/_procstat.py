# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the CPU of a live migration goes, seen from the machine that runs the lab's containers.

The embedded lab's hypervisors are LXC containers: their QEMU processes are processes of this
machine, and ``/proc`` shows them with their threads (QEMU names them with ``debug-threads=on``,
as libvirt starts it: ``CPU 0/TCG`` is the guest's vCPU, ``live_migration`` / ``mig/src/...``
/ ``multifdsend_N`` the sender, ``mig/dst/...`` / ``multifdrecv_N`` the receiver) and the
cgroup names the container (``lxc.payload.<lab>-hv1-...``).

:class:`Sampler` reads, every ``period`` seconds, the machine's busy and total jiffies
(``/proc/stat``) and the CPU jiffies of every thread of every QEMU of one domain;
:func:`summary` turns the samples of one move into the timeline (destination QEMU started,
source migration thread started, source QEMU gone) and CPU shares over that window.
"""

from __future__ import annotations

import os
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def machine_jiffies():
    """``(busy, total)`` jiffies of all CPUs (``/proc/stat``; iowait and idle are not busy)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _thread_jiffies(pid):
    """``{thread name: utime+stime jiffies}`` of a process (summed over threads of one name)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid), encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:   # a thread that ended since the listing
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def thread_kind(name):
    """``vcpu``, ``migration`` or ``other`` for a QEMU thread name."""
    if name.startswith("CPU "):
        return "vcpu"
    if "migration" in name or name.startswith(("mig/", "multifd")):
        return "migration"
    return "other"


class Sampler(threading.Thread):
    """Samples in a thread until :meth:`stop`; ``samples``: ``[(t, busy, total, {pid: (host,
    {thread: jiffies})})]`` for the QEMU processes whose command line names ``domain``."""

    def __init__(self, domain, period=0.05):
        super().__init__(daemon=True)
        self.needle = ("guest=%s," % domain).encode()
        self.period, self.samples, self.hosts, self.first = period, [], {}, {}
        self._stop_event = threading.Event()

    def _qemus(self):
        pids, now = [], time.time()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            # a process seen in its first seconds is looked at again: libvirt forks first and
            # execs QEMU a moment later (the fork still has libvirtd's command line)
            if pid not in self.hosts or (self.hosts[pid] is None and now - self.first[pid] < 3):
                self.first.setdefault(pid, now if self.samples else 0)  # first scan: all old
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        cmd = f.read()
                    with open("/proc/%d/cgroup" % pid, encoding="utf-8") as f:
                        cgroup = f.read()
                except OSError:
                    continue
                self.hosts[pid] = _host(cgroup) if b"qemu-system" in cmd and self.needle in cmd else None
            if self.hosts[pid]:
                pids.append(pid)
        return pids

    def run(self):
        while not self._stop_event.is_set():
            busy, total = machine_jiffies()
            procs = {}
            for pid in self._qemus():
                try:
                    procs[pid] = (self.hosts[pid], _thread_jiffies(pid))
                except (OSError, ValueError):
                    continue
            self.samples.append((time.time(), busy, total, procs))
            self._stop_event.wait(self.period)

    def stop(self):
        self._stop_event.set()
        self.join(5)
        return self.samples


def _host(cgroup):
    for part in cgroup.replace("\n", "/").split("/"):
        if part.startswith("lxc.payload."):
            return part[len("lxc.payload."):]
    return "host"


def _used(samples, pid, baseline):
    """Jiffies per thread kind that ``pid`` used after ``baseline`` ({thread: jiffies}): the
    largest value seen per thread name (a thread that ended keeps its last reading)."""
    seen = {}
    for _t, _b, _tt, procs in samples:
        for name, jiffies in procs.get(pid, (None, {}))[1].items():
            seen[name] = max(seen.get(name, 0), jiffies)
    out = {"vcpu": 0, "migration": 0, "other": 0}
    for name, jiffies in seen.items():
        out[thread_kind(name)] += jiffies - baseline.get(name, 0)
    return out


def summary(samples, source_host):
    """Timeline and CPU of one move from its samples (None when no migration was seen).

    ``prepare_ms``: destination QEMU appeared -> a migration thread appeared in the source QEMU
    (libvirt's Prepare: the incoming QEMU starts); ``copy_ms``: that -> the source QEMU gone
    (pre-copy, switchover, libvirt's Finish/Confirm); CPU in % of one core over the window
    from the destination QEMU's start to the source QEMU's end: ``src_vcpu_pct``,
    ``src_migration_pct``, ``src_other_pct``, ``dst_pct``; ``machine_busy_pct`` of all CPUs."""
    src = next((pid for _t, _b, _tt, procs in samples for pid, (host, _th) in procs.items()
                if source_host in host), None)
    if src is None:
        return None
    dst = next((pid for _t, _b, _tt, procs in samples for pid in procs if pid != src), None)
    t_dst = next((s for s in samples if dst in s[3]), None)
    t_mig = next((s for s in samples if src in s[3]
                  and any(thread_kind(name) == "migration" for name in s[3][src][1])), None)
    gone = next((s for s in samples if t_dst and s[0] > t_dst[0] and src not in s[3]), None)
    if t_dst is None or gone is None:
        return None
    window = gone[0] - t_dst[0]
    cores = window * HZ / 100.0   # jiffies of one core in the window, per percent
    inside = [s for s in samples if s[0] <= gone[0]]
    src_used = _used(inside, src, t_dst[3][src][1])
    dst_used = _used(inside, dst, {})
    out = {"window_ms": int(window * 1000),
           "prepare_ms": int((t_mig[0] - t_dst[0]) * 1000) if t_mig else None,
           "copy_ms": int((gone[0] - t_mig[0]) * 1000) if t_mig else None,
           "machine_busy_pct": round(100.0 * (gone[1] - t_dst[1]) / max(1, gone[2] - t_dst[2]), 1),
           "dst_pct": round(sum(dst_used.values()) / cores, 1),
           "src_threads": sorted(set(n for s in inside for n in s[3].get(src, (None, {}))[1]))}
    for kind in ("vcpu", "migration", "other"):
        out["src_%s_pct" % kind] = round(src_used[kind] / cores, 1)
    return out


def busy_pct(before, after):
    """% of all CPUs busy between two :func:`machine_jiffies` readings."""
    return round(100.0 * (after[0] - before[0]) / max(1, after[1] - before[1]), 1)
