# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lost pings per live migration: ``announce: on_resume`` against ``at_switchover``.

Needs the embedded lab up (``make lab``; guest1 on hv1). For each mode, ROUNDS round trips
hv1 -> hv2 -> hv1 of guest1 through ``sanboot.lab.live_migration`` (ad hoc ``ansible``,
as migrate.yml calls it), while client1 pings the guest with ``ping -D -i 0.01`` (what it
really sends here is one every ~15 ms): the pings lost per move times the interval estimate
how long the network sent the guest's frames to a host that dropped them, the "blind window"
that decides how often a 100 ms ping is lost (window / 100 ms per move).

``python -m bench migration_announce [ROUNDS] [--uri PREFIX] [--modes M,M] [--collections DIR]``
(default 8 round trips; the destination URI starts with ``qemu+tls://``, the embedded lab's
libvirt transport; ``--uri qemu+ssh://root@`` for a lab on the ssh transport; ``--modes
at_switchover`` measures one mode; ``--collections DIR`` runs the module from another install,
e.g. an older commit's ``ansible-galaxy collection install -p DIR``, to compare two versions).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from bench._common import ROOT, Run, deb_versions, py_versions

sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))  # `make collection`
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._report import (  # noqa: E402  pylint: disable=wrong-import-position
    ping_stats,
)

INVENTORY = os.path.join(ROOT, "inventories", "local")
KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"
HOSTS = {"hv1": "198.51.100.41", "hv2": "198.51.100.42", "client1": "198.51.100.20"}
GUEST = "198.51.100.61"
INTERVAL, COUNT = 0.01, 600
URI_PREFIX = "qemu+tls://"


def ssh(host, command):
    return subprocess.run(
        ["ssh", "-q", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "root@%s" % HOSTS[host], command],
        capture_output=True, text=True, check=True).stdout


def migrate(src, dst, announce, uri=URI_PREFIX, collections=None):
    args = ("domain=guest1 source=%s destination=%s destination_uri=%s%s/system "
            "migrate_uri=tcp://%s max_downtime_ms=20 persistent=keep announce=%s"
            % (src, dst, uri, HOSTS[dst], HOSTS[dst], announce))
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    if collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = collections
    proc = subprocess.run(["ansible", src, "-i", INVENTORY, "-m", "sanboot.lab.live_migration",
                           "-a", args], capture_output=True, text=True, env=env, check=False)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][src]
    if result.get("failed"):
        raise RuntimeError("%s -> %s: %s" % (src, dst, result.get("msg")))
    return result


def move(src, dst, announce, uri=URI_PREFIX, collections=None):
    log = "/tmp/sanboot-bench-ping.log"
    ssh("client1", "setsid ping -n -D -i %s -c %d %s > %s 2>&1 < /dev/null &"
        % (INTERVAL, COUNT, GUEST, log))
    time.sleep(1.5)
    result = migrate(src, dst, announce, uri, collections)
    for _i in range(120):
        out = ssh("client1", "cat %s" % log)
        if "packets transmitted" in out:
            break
        time.sleep(0.5)
    ping, report = ping_stats(out), result["stats"].get("announce") or {}
    return {"lost": ping["lost"], "gap": ping["longest_gap_ms"],
            "downtime": result.get("downtime_ms"),
            "after": report.get("announced_after_pause_ms"), "priority": report.get("priority")}


def _option(argv, name, default):
    if name in argv:
        at = argv.index(name)
        value = argv[at + 1]
        del argv[at:at + 2]
        return value
    return default


def main(argv):
    argv = list(argv)
    uri = _option(argv, "--uri", URI_PREFIX)
    modes = _option(argv, "--modes", "on_resume,at_switchover").split(",")
    collections = _option(argv, "--collections", None)
    rounds = int(argv[0]) if argv else 8
    try:
        where = ssh("hv1", "virsh -q list --name --state-running")
    except subprocess.CalledProcessError:
        raise SystemExit("migration_announce needs the embedded lab: run `make lab` first")
    if "guest1" not in where.split():
        raise SystemExit("migration_announce: guest1 does not run on hv1 (run `make lab`)")
    run, rows = Run("migration_announce", {"rounds": rounds, "ping_interval_s": INTERVAL,
                                           "destination_uri_prefix": uri, "modes": modes,
                                           "collections": collections}), []
    for announce in modes:
        moves = []
        for _r in range(rounds):
            moves.append(move("hv1", "hv2", announce, uri, collections))
            moves.append(move("hv2", "hv1", announce, uri, collections))
        lost = [m["lost"] for m in moves]
        rows.append({
            "announce": announce, "moves": len(moves),
            "moves_with_loss": sum(1 for n in lost if n), "lost_total": sum(lost),
            "lost_max": max(lost), "downtime_median_ms": statistics.median(
                m["downtime"] for m in moves if m["downtime"] is not None),
            "gap_median_ms": statistics.median(m["gap"] for m in moves if m["gap"]),
            "announced_after_pause_ms_median": statistics.median(
                [m["after"] for m in moves if m["after"] is not None] or [None]),
            "announced_after_pause_ms_max": max(
                [m["after"] for m in moves if m["after"] is not None] or [None]),
            "priority": " ".join(sorted({"%s/%s" % (p.get("events"), p.get("helper"))
                                         for p in (m["priority"] for m in moves) if p})) or "-",
            "moves_detail": moves})
    ping_ms = 15.6  # ping -i 0.01 sends one request every ~15.6 ms here (lab-facts)
    for row in rows:
        row["blind_window_ms"] = round(row["lost_total"] * ping_ms / row["moves"], 1)
        row["p_loss_at_100ms"] = round(row["blind_window_ms"] / 100.0, 3)
    run.report([("announce", "announce", "%s"), ("moves", "moves", "%d"),
                ("moves_with_loss", "moves losing", "%d"), ("lost_total", "lost pings", "%d"),
                ("lost_max", "max/move", "%d"), ("downtime_median_ms", "downtime ms (median)", "%s"),
                ("gap_median_ms", "longest gap ms (median)", "%s"),
                ("announced_after_pause_ms_median", "announce after pause ms", "%s"),
                ("announced_after_pause_ms_max", "max", "%s"),
                ("priority", "events/helper priority", "%s"),
                ("blind_window_ms", "blind window ms (est.)", "%s"),
                ("p_loss_at_100ms", "P(loss) per move at 100 ms", "%s")],
               rows, dict(deb_versions("iputils-ping"), **py_versions("ansible-core")),
               notes=["blind window = lost pings x 15.6 ms (the real ping interval) / moves",
                      "needs the lab up; guest1 starts and ends on hv1"])
