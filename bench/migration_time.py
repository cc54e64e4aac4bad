# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long a live migration of guest1 takes, where the time goes, and what moves it (issue 13).

Needs the embedded lab up (``make lab``; guest1 on hv1 or hv2). For each configuration
(CONFIGS: module arguments), MOVES moves of guest1 back and forth between hv1 and hv2 through
``sanboot.lab.live_migration`` (ad hoc ``ansible`` from the repository root, with the collection
of ``.cache/collections`` - what users get), while client1 pings the guest (``ping -D``, every
``--interval`` s, 0.1 as migrate.yml; stopped by PID one second after the move; a last probe
still unanswered when ping is stopped is not counted as lost). Per move it keeps:

- the module's result: ``total_time_ms`` and ``downtime_ms`` (libvirt's completed job), and
  from ``stats`` the bytes (memory total/processed/remaining, normal bytes), the pages
  (``memory_constant``: zero pages QEMU sends as a flag; ``memory_normal``: sent whole), the
  pre-copy passes (``memory_iteration`` = QEMU's dirty-sync-count), ``setup_time``,
  ``memory_bps``;
- the CPU of this machine, which runs the lab's containers (bench/_procstat.py): the QEMU
  threads of the source and destination every 50 ms - the window from the destination QEMU's
  start to the source QEMU's end, split into prepare (until the source's migration thread
  appears) and copy, the source's vCPU and migration threads and the destination in % of one
  core, the machine busy in % of all cores, before the move and during it; the load average.

``python -m bench migration_time [MOVES] [--interval S] [--only NAME,NAME] [--wait-file PATH] [--tag TAG]
[--fill-guest] [--uri PREFIX]``
(default 8 moves; ``--uri qemu+tls://`` moves over libvirt's TLS transport - the hypervisors
configured with ``libvirt_host_migration_transport: tls`` first; ``--only`` takes configuration names or their first words; with
``--wait-file`` each move waits while PATH is missing - a lab lent by whoever creates it; ``--tag``
writes migration_time-TAG.json; ``--fill-guest`` first fills the guest's free memory with data,
see GUEST_FILL). The configurations take turns, one move each, round after round.
Prints the table, writes bench/results/migration_time[-TAG].json (and the moves so far to
migration_time.partial.json after every move) and the PNG.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from bench import _procstat
from bench._common import RESULTS, ROOT, Run, deb_versions, py_versions

sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))  # `make collection`
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._report import (  # noqa: E402  pylint: disable=wrong-import-position
    ping_stats,
)

INVENTORY = os.path.join(ROOT, "inventories", "local")
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"
GUEST = "198.51.100.61"
HOSTS = {"hv1": "198.51.100.41", "hv2": "198.51.100.42", "client1": "198.51.100.20", "guest1": GUEST}
PING_LOG = "/tmp/sanboot-bench-migration-time.ping"
GOAL = {"total_ms": 1200, "downtime_ms": 30}
URI_PREFIX = "qemu+ssh://root@"  # --uri PREFIX: e.g. qemu+tls:// once the hypervisors accept TLS

# (name, module arguments besides domain/source/destination/URIs/persistent=keep)
CONFIGS = (
    ("module defaults", {}),
    ("migrate.yml (max_downtime_ms 20)", {"max_downtime_ms": 20}),
    ("max_downtime_ms 10", {"max_downtime_ms": 10}),
    ("max_downtime_ms 50", {"max_downtime_ms": 50}),
    ("parallel_connections 2", {"max_downtime_ms": 20, "parallel_connections": 2}),
    ("parallel_connections 4", {"max_downtime_ms": 20, "parallel_connections": 4}),
    ("bandwidth_mbps 1000", {"max_downtime_ms": 20, "bandwidth_mbps": 1000}),
    # the module drives the migration over its own connections (opened for the prechecks): no
    # second ssh handshake by the source libvirtd in libvirt's Begin phase
    ("peer2peer false", {"max_downtime_ms": 20, "peer2peer": False}),
    # last: what it leaves in the guest (zeroed free memory) helps every later move
    ("guest free memory zeroed", {"max_downtime_ms": 20}),
    # both levers at once: no second ssh handshake and less data
    ("zeroed + peer2peer false", {"max_downtime_ms": 20, "peer2peer": False}),
)
# run in the guest before each move of a configuration: page cache dropped, then the free memory
# (MemFree less 48 MiB) taken, written with zeros and given back - the free pages are zero pages
_FILL_FREE = (
    "sync; echo 3 > /proc/sys/vm/drop_caches; python3 -c 'import mmap\n"
    "kib = int([l.split()[1] for l in open(\"/proc/meminfo\") if l.startswith(\"MemFree:\")][0])\n"
    "n = max(0, kib * 1024 - (48 << 20)) // 4096 * 4096\n"
    "m = mmap.mmap(-1, n)\nz = bytes([%d]) * (1 << 20)\n"
    "for off in range(0, n - (1 << 20) + 1, 1 << 20): m[off:off + (1 << 20)] = z'")
GUEST_PREPARE = {"guest free memory zeroed": _FILL_FREE % 0, "zeroed + peer2peer false": _FILL_FREE % 0}
# --fill-guest: once before the first move, the free memory written with 0xa5 and given back, as
# migrate.yml's memory check (256 MiB of patterns) leaves it: every configuration starts alike
GUEST_FILL = _FILL_FREE % 0xA5


def ssh(host, command, check=True):
    return subprocess.run(
        ["ssh", "-q", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "root@%s" % HOSTS[host],
         command], capture_output=True, text=True, check=check, timeout=60).stdout


def where():
    return [hv for hv in ("hv1", "hv2")
            if "guest1" in ssh(hv, "virsh -q list --name --state-running").split()]


def migrate(src, dst, extra):
    # "uri": the destination URI's scheme and user part, "qemu+ssh://root@" (the lab's) or
    # "qemu+tls://" (needs the hypervisors on libvirt_host_migration_transport tls, see --uri)
    extra = dict(extra)
    uri = extra.pop("uri", URI_PREFIX)
    args = dict(domain="guest1", source=src, destination=dst, persistent="keep", timeout=120,
                destination_uri="%s%s/system" % (uri, HOSTS[dst]),
                migrate_uri="tcp://%s" % HOSTS[dst], **extra)
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    proc = subprocess.run(["ansible", src, "-i", INVENTORY, "-m", "sanboot.lab.live_migration",
                           "-a", json.dumps(args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][src]
    except (ValueError, KeyError, IndexError):
        return {"failed": True, "msg": (proc.stdout + proc.stderr)[-500:]}


def cpu_pressure():
    """``some avg10`` of /proc/pressure/cpu: % of the last 10 s some task waited for a CPU."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as f:
            return float(f.readline().split("avg10=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def wait_for(path):
    """With ``--wait-file PATH``: wait while PATH is missing (a shared lab lent by its owner)."""
    while path and not os.path.exists(path):
        print("waiting for %s" % path, flush=True)
        time.sleep(60)


def lost_pings(text):
    """Unanswered probes, but not the last one sent if ping was stopped before its reply."""
    ping = ping_stats(text)
    missing = [n for n in ping["missing"] if n != ping["transmitted"]]
    return ping, len(missing)


def move(src, dst, extra, interval, prepare=None):
    if prepare:
        ssh("guest1", prepare)
    pid = ssh("client1", "setsid ping -n -D -i %s %s > %s 2>&1 < /dev/null & echo $!"
              % (interval, GUEST, PING_LOG)).strip()
    before = _procstat.machine_jiffies()
    time.sleep(1.5)
    busy_before = _procstat.busy_pct(before, _procstat.machine_jiffies())
    load = round(os.getloadavg()[0], 2)
    psi = cpu_pressure()
    sampler = _procstat.Sampler("guest1")
    sampler.start()
    result = migrate(src, dst, extra)
    time.sleep(0.3)
    samples = sampler.stop()
    time.sleep(0.7)
    out = ssh("client1", "kill -INT %d; for i in $(seq 50); do grep -q 'packets transmitted' %s && break;"
              " sleep 0.1; done; cat %s; rm -f %s" % (int(pid), PING_LOG, PING_LOG, PING_LOG), check=False)
    ping, lost = lost_pings(out)
    stats = result.get("stats") or {}
    row = {"direction": "%s -> %s" % (src, dst), "failed": bool(result.get("failed")),
           "msg": result.get("msg") if result.get("failed") else None,
           "total_ms": result.get("total_time_ms"), "downtime_ms": result.get("downtime_ms"),
           "wall_ms": result.get("wall_time_ms"), "transferred_bytes": result.get("transferred_bytes"),
           "lost_pings": lost, "longest_gap_ms": ping["longest_gap_ms"], "pings": ping["transmitted"],
           "busy_before_pct": busy_before, "load1": load, "cpu_pressure_pct": psi}
    for key in _KEEP:
        row[key] = stats.get(key)
    row.update(_procstat.summary(samples, "-%s-" % src) or {})
    return row


_KEEP = ("setup_time", "downtime_net", "memory_total", "memory_processed", "memory_remaining",
         "memory_constant", "memory_normal", "memory_normal_bytes", "memory_bps",
         "memory_iteration", "memory_dirty_rate", "memory_page_size")


def _med(moves, key, scale=1.0):
    vals = [m[key] * scale for m in moves if m.get(key) is not None]
    return round(statistics.median(vals), 1) if vals else None


def _max(moves, key):
    vals = [m[key] for m in moves if m.get(key) is not None]
    return max(vals) if vals else None


def summarise(name, extra, moves):
    ok = [m for m in moves if not m["failed"]]
    mib = 1.0 / 1048576
    row = {"config": name, "args": extra, "moves": len(moves), "failures": len(moves) - len(ok),
           "total_med_ms": _med(ok, "total_ms"), "total_max_ms": _max(ok, "total_ms"),
           "downtime_med_ms": _med(ok, "downtime_ms"), "downtime_max_ms": _max(ok, "downtime_ms"),
           "wall_med_ms": _med(ok, "wall_ms"),
           "sent_mib": _med(ok, "transferred_bytes", mib), "memory_mib": _med(ok, "memory_total", mib),
           "normal_mib": _med(ok, "memory_normal_bytes", mib), "remaining_mib": _med(ok, "memory_remaining", mib),
           "zero_pages": _med(ok, "memory_constant"), "normal_pages": _med(ok, "memory_normal"),
           "passes_med": _med(ok, "memory_iteration"), "passes_max": _max(ok, "memory_iteration"),
           "setup_med_ms": _med(ok, "setup_time"), "mbps_med": _med(ok, "memory_bps", 8e-6),
           "prepare_med_ms": _med(ok, "prepare_ms"), "copy_med_ms": _med(ok, "copy_ms"),
           "src_vcpu_pct": _med(ok, "src_vcpu_pct"), "src_migration_pct": _med(ok, "src_migration_pct"),
           "dst_pct": _med(ok, "dst_pct"), "machine_busy_pct": _med(ok, "machine_busy_pct"),
           "busy_before_pct": _med(moves, "busy_before_pct"), "load1_med": _med(moves, "load1"),
           "cpu_pressure_med": _med(moves, "cpu_pressure_pct"),
           "lost_pings": sum(m["lost_pings"] for m in moves),
           "moves_losing": sum(1 for m in moves if m["lost_pings"]),
           "gap_max_ms": _max(moves, "longest_gap_ms"), "moves_detail": moves}
    row["goal"] = "yes" if (not row["failures"] and row["lost_pings"] == 0 and row["total_med_ms"] is not None
                            and row["total_med_ms"] <= GOAL["total_ms"]
                            and row["downtime_med_ms"] <= GOAL["downtime_ms"]) else "no"
    return row


COLUMNS = [("config", "config", "%s"), ("moves", "moves", "%d"), ("failures", "failed", "%d"),
           ("total_med_ms", "total ms med", "%.0f"), ("total_max_ms", "max", "%d"),
           ("downtime_med_ms", "downtime ms med", "%.1f"), ("downtime_max_ms", "max", "%d"),
           ("sent_mib", "sent MiB", "%.0f"), ("normal_mib", "normal MiB", "%.0f"),
           ("zero_pages", "zero pages", "%.0f"), ("passes_med", "passes", "%.0f"),
           ("passes_max", "max", "%d"), ("setup_med_ms", "setup ms", "%.0f"),
           ("mbps_med", "Mbit/s", "%.0f"), ("prepare_med_ms", "prepare ms", "%.0f"),
           ("copy_med_ms", "copy ms", "%.0f"), ("src_migration_pct", "src mig %core", "%.0f"),
           ("src_vcpu_pct", "src vCPU %core", "%.0f"), ("dst_pct", "dst %core", "%.0f"),
           ("machine_busy_pct", "busy % (2 cores)", "%.0f"), ("busy_before_pct", "busy before %", "%.0f"),
           ("load1_med", "load1", "%.1f"), ("cpu_pressure_med", "CPU PSI %", "%.0f"), ("lost_pings", "lost pings", "%d"),
           ("gap_max_ms", "gap max ms", "%d"), ("goal", "goal", "%s")]


def schedule(configs, rounds):
    """The moves in order: round by round through the configurations (a load that comes and goes
    hits them all alike), then those that change the guest (GUEST_PREPARE), each in a row."""
    plain = [c for c in configs if c[0] not in GUEST_PREPARE]
    out = [c for _r in range(rounds) for c in plain]
    return out + [c for c in configs if c[0] in GUEST_PREPARE for _r in range(rounds)]


def parse(argv):
    moves, interval, only, wait, tag, fill = 8, 0.1, None, None, None, False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--fill-guest":
            fill = True
        elif arg == "--tag":
            tag = args.pop(0)
        elif arg == "--wait-file":
            wait = args.pop(0)
        elif arg == "--interval":
            interval = float(args.pop(0))
        elif arg == "--uri":
            global URI_PREFIX  # pylint: disable=global-statement
            URI_PREFIX = args.pop(0)
        elif arg == "--only":
            only = args.pop(0).split(",")
        else:
            moves = int(arg)
    configs = [c for c in CONFIGS if only is None or c[0] in only or c[0].split()[0] in only]
    return moves, interval, configs, wait, tag, fill


def main(argv):
    moves_n, interval, configs, wait, tag, fill = parse(argv)
    try:
        here = where()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        raise SystemExit("migration_time needs the embedded lab: run `make lab` first")
    if len(here) != 1:
        raise SystemExit("migration_time: guest1 runs on %s, not on exactly one of hv1/hv2" % (here or "none"))
    params = {"moves_per_config": moves_n, "ping_interval_s": interval, "configs": [c[0] for c in configs],
              "goal": GOAL, "fill_guest": fill, "destination_uri_prefix": URI_PREFIX}
    run = Run("migration_time" + ("-" + tag if tag else ""), params)
    moves, src = dict((name, []) for name, _extra in configs), here[0]
    if fill:
        ssh("guest1", GUEST_FILL)
    for name, extra in schedule(configs, moves_n):
        dst = "hv2" if src == "hv1" else "hv1"
        wait_for(wait)
        moves[name].append(move(src, dst, extra, interval, GUEST_PREPARE.get(name)))
        print("%-34s %s" % (name, json.dumps({k: moves[name][-1].get(k) for k in (
            "direction", "failed", "total_ms", "downtime_ms", "memory_iteration", "lost_pings",
            "prepare_ms", "copy_ms", "src_migration_pct", "msg")})), flush=True)
        if not moves[name][-1]["failed"]:
            src = dst
        with open(os.path.join(RESULTS, "%s.partial.json" % run.name), "w", encoding="utf-8") as f:
            json.dump([summarise(n, e, moves[n]) for n, e in configs if moves[n]], f, indent=1)
    rows = [summarise(name, extra, moves[name]) for name, extra in configs]
    run.report(COLUMNS, rows, dict(deb_versions("iputils-ping"), **py_versions("ansible-core")),
               notes=["lab hosts: libvirt 11.3 / QEMU 10.0.2 (bookworm-backports), guest1 TCG 1 vCPU 512 MiB",
                      "%core: CPU of one core over the window dest QEMU start -> source QEMU end",
                      "goal: total median <= 1200 ms, downtime median <= 30 ms, 0 lost pings"])
