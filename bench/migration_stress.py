# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migrations that must never corrupt a guest: fresh and warm guests, idle and loaded host.

Needs the embedded lab up (``make lab``; guest1 defined on hv1).  ``python -m bench
migration_stress [MOVES] [--config NAME] [--seed N] [--warm]`` makes MOVES moves of guest1 between hv1 and
hv2 through ``sanboot.lab.live_migration`` (ad hoc ``ansible``, as migrate.yml calls it):

- a third right after a fresh boot (guest destroyed and started again on hv1, moved to hv2 as
  soon as ssh answers: about a minute after power-on, when a booting guest writes the most), the
  rest with a guest up for minutes, moved from where it runs to the other hypervisor;
- a third of the moves while the host runs two busy processes (2 cores: every QEMU competes);
- in the guest ``sanboot-memcheck.py`` (playbooks/files) keeps 256 MiB filled with a pattern and
  rewrites pages while the move runs; after each move every page is verified;
- client1 pings the guest every 100 ms during each move; after the move the guest must answer
  ping and ssh within 20 s, its ``dmesg`` must show no panic, oops or lockup;
- a guest that does not answer: where it runs, its vCPU (RIP, interrupt flag) and the last lines
  of the serial log libvirt keeps; it is destroyed and booted again from its LUN and the next
  move starts fresh.

``--config`` picks the settings under test (CONFIGS): ``lab`` is what the lab uses now,
``before`` the configuration that corrupted guests (issue 8: QEMU 7.2, see CONFIGS for how to
build that lab), ``on_resume`` and ``paused`` were steps of the bisection.
Prints the table, writes bench/results/migration_stress[-CONFIG].json (and, after every move,
the moves so far to ...partial.json).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time

from bench._common import RESULTS, ROOT, Run, deb_versions, py_versions

sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))  # `make collection`
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._report import (  # noqa: E402  pylint: disable=wrong-import-position
    kernel_problems, ping_stats,
)

INVENTORY = os.path.join(ROOT, "inventories", "local")
KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"
HOSTS = {"hv1": "198.51.100.41", "hv2": "198.51.100.42", "client1": "198.51.100.20",
         "guest1": "198.51.100.61"}
MEMCHECK = os.path.join(ROOT, "playbooks", "files", "sanboot-memcheck.py")
SOCK = "/run/sanboot-memcheck.sock"
SERIAL = "/var/log/libvirt/qemu/guest1-serial.log"
FATAL = ("panic", "oops", "lockup")

# module arguments of each configuration (besides domain/source/destination/URIs). "before" is
# the lab of issue 8 (Debian 12's QEMU 7.2): build it with
#   make lab-down && make lab LAB_VARS='{"lab_image_backports": [], "site_migrate": false}'
# (live_migration refuses TCG live moves there unless allow_unsafe_tcg is set).
CONFIGS = {
    "lab": {"announce": "on_resume"},
    "before": {"announce": "at_switchover", "allow_unsafe_tcg": True},
    "on_resume": {"announce": "on_resume"},
    # bisection of issue 8 (diagnostic configurations)
    "paused": {"announce": "on_resume", "live": False},
}


def ssh_rc(host, command, timeout=30):
    """``(rc, stdout, stderr)`` of ``command`` on a lab host over ssh."""
    proc = subprocess.run(
        ["ssh", "-q", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
         "root@%s" % HOSTS[host], command],
        capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def ssh(host, command, timeout=30, check=True):
    rc, out, err = ssh_rc(host, command, timeout)
    if check and rc != 0:
        raise RuntimeError("ssh %s %r: rc %d %s" % (host, command, rc, err.strip()))
    return out


def where():
    """Hypervisors that run guest1."""
    return [hv for hv in ("hv1", "hv2")
            if "guest1" in ssh(hv, "virsh -q list --name --state-running").split()]


def answers(timeout):
    """True when the guest answers ping and ssh within ``timeout`` seconds."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if ssh_rc("guest1", "true", timeout=8)[0] == 0 and \
                    subprocess.run(["ping", "-n", "-c", "1", "-W", "1", HOSTS["guest1"]],
                                   capture_output=True, check=False).returncode == 0:
                return True
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1)
    return False


def memcheck_start(mib):
    """(Re)start the memory checker in the guest: MIB MiB, verified after each move."""
    ssh("guest1", "[ -S %s ] && python3 /run/sanboot-memcheck.py ask %s stop; true" % (SOCK, SOCK), check=False)
    with open(MEMCHECK, encoding="utf-8") as f:
        subprocess.run(["ssh", "-q", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "root@%s" % HOSTS["guest1"],
                        "cat > /run/sanboot-memcheck.py"], stdin=f, check=True, timeout=30)
    ssh("guest1", "setsid python3 /run/sanboot-memcheck.py serve %s %d 3600 >/dev/null 2>&1 </dev/null &"
        " for i in $(seq 100); do [ -S %s ] && exit 0; sleep 0.1; done; exit 1" % (SOCK, mib, SOCK))


def memcheck(word):
    out = ssh("guest1", "python3 /run/sanboot-memcheck.py ask %s %s" % (SOCK, word), timeout=120)
    return json.loads(out)


def vcpu_state(hv):
    """RIP and the interrupt flag of the guest's vCPU, read twice (HMP info registers)."""
    out = []
    for _i in range(2):
        regs = ssh(hv, "virsh qemu-monitor-command guest1 --hmp 'info registers'", check=False)
        rip = next((w.split("=")[1] for w in regs.split() if w.startswith("RIP=")), None)
        rfl = next((w.split("=")[1] for w in regs.split() if w.startswith("RFL=")), None)
        out.append({"rip": rip, "if": bool(int(rfl, 16) & 0x200) if rfl else None})
        time.sleep(1)
    return out


def serial_tail(hv, since):
    return ssh(hv, "tail -c +%d %s 2>/dev/null | tail -n 60" % (since + 1, SERIAL), check=False)


def serial_size(hv):
    out = ssh(hv, "stat -c %%s %s 2>/dev/null || echo 0" % SERIAL, check=False).strip()
    return int(out or 0)


def restart_guest():
    """Destroy guest1 wherever it runs and boot it again on hv1 (its disk is on the SAN)."""
    for hv in where():
        ssh(hv, "virsh destroy guest1", check=False)
    ssh("hv1", "virsh start guest1")
    started = time.time()
    if not answers(240):
        raise RuntimeError("guest1 did not answer within 240 s of a fresh boot")
    return started


def migrate(src, dst, config):
    args = dict(CONFIGS[config], domain="guest1", source=src, destination=dst,
                destination_uri="qemu+ssh://root@%s/system" % HOSTS[dst],
                migrate_uri="tcp://%s" % HOSTS[dst], max_downtime_ms=20, persistent="keep",
                timeout=120)
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    proc = subprocess.run(["ansible", src, "-i", INVENTORY, "-m", "sanboot.lab.live_migration",
                           "-a", json.dumps(args)], capture_output=True, text=True, env=env,
                          check=False, timeout=300)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][src]
    except (ValueError, KeyError, IndexError):
        return {"failed": True, "msg": (proc.stdout + proc.stderr)[-500:]}


def busy(count, seconds):
    code = "import time\nend = time.time() + %f\nwhile time.time() < end: pass\n" % seconds
    return [subprocess.Popen([sys.executable, "-c", code]) for _i in range(count)]


def one_move(src, dst, config, loaded, uptime):
    """Move guest1 src -> dst and judge it; returns the row."""
    row = {"direction": "%s -> %s" % (src, dst), "loaded": loaded, "uptime_s": round(uptime, 1),
           "failure": None}
    since = serial_size(dst)
    log = "/tmp/sanboot-stress-ping.log"
    ssh("client1", "setsid ping -n -D -i 0.1 -c 600 %s > %s 2>&1 < /dev/null & echo $! > %s.pid"
        % (HOSTS["guest1"], log, log))
    hogs = busy(2, 120) if loaded else []
    try:
        time.sleep(1)
        result = migrate(src, dst, config)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    time.sleep(1)
    ssh("client1", "kill -INT $(cat %s.pid) 2>/dev/null; sleep 0.3; true" % log, check=False)
    ping = ping_stats(ssh("client1", "cat %s" % log, check=False) or "0 packets transmitted, 0 received")
    row.update(lost_pings=ping["lost"], longest_gap_ms=ping["longest_gap_ms"],
               total_ms=result.get("total_time_ms"), downtime_ms=result.get("downtime_ms"),
               transferred=result.get("transferred_bytes"))
    if result.get("failed"):
        row["failure"], row["detail"] = "migration", str(result.get("msg"))[:300]
        return row
    if not answers(20):
        hv = (where() or [dst])[0]
        problems = kernel_problems(serial_tail(hv, since))
        row["failure"] = next((p["kind"] for p in problems if p["kind"] in FATAL), "hang")
        row["detail"] = {"runs_on": where(), "vcpu": vcpu_state(hv), "serial": problems[:6]}
        return row
    mem = memcheck("verify")
    row["memory_pages_checked"] = mem["checked"]
    if not mem["ok"]:
        row["failure"], row["detail"] = "memory", mem
        return row
    problems = kernel_problems(ssh("guest1", "dmesg", check=False))
    if any(p["kind"] in FATAL for p in problems):
        row["failure"] = next(p["kind"] for p in problems if p["kind"] in FATAL)
        row["detail"] = problems[:6]
    return row


def plan(moves, rng, fresh_share=1 / 3.0):
    """A shuffled list of (fresh, loaded), one per move: a third fresh, a third loaded."""
    fresh = int(round(moves * fresh_share))
    loaded = set(rng.sample(range(moves), moves // 3))
    kinds = [(i < fresh, i in loaded) for i in range(moves)]
    rng.shuffle(kinds)
    return kinds


def summary(rows, config):
    def med(key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def top(key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return max(vals) if vals else None

    kinds = ("panic", "oops", "lockup", "hang", "memory", "migration")
    out = {"config": config, "moves": len(rows),
           "fresh": sum(1 for r in rows if r.get("fresh_boot")),
           "within_60s": sum(1 for r in rows if r["uptime_s"] <= 60),
           "loaded": sum(1 for r in rows if r["loaded"]),
           "failures": sum(1 for r in rows if r["failure"]),
           "lost_pings": sum(r.get("lost_pings") or 0 for r in rows),
           "downtime_median_ms": med("downtime_ms"), "downtime_max_ms": top("downtime_ms"),
           "total_median_ms": med("total_ms"), "total_max_ms": top("total_ms")}
    out.update({k: sum(1 for r in rows if r["failure"] == k) for k in kinds})
    return out


def save_partial(run, rows):
    """The moves so far (bench/results/<name>.partial.json): a long run interrupted keeps them."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, run.name + ".partial.json"), "w", encoding="utf-8") as f:
        json.dump({"params": run.params, "summary": summary(rows, run.params["config"]), "moves": rows}, f, indent=1)


def main(argv):
    moves, config, seed, fresh_share = 100, "lab", 8, 1 / 3.0
    args = list(argv)
    while args:
        word = args.pop(0)
        if word == "--config":
            config = args.pop(0)
        elif word == "--warm":
            fresh_share = 0
        elif word == "--seed":
            seed = int(args.pop(0))
        else:
            moves = int(word)
    if config not in CONFIGS:
        raise SystemExit("--config: choose from %s" % ", ".join(CONFIGS))
    try:
        home = where()
    except (RuntimeError, subprocess.TimeoutExpired):
        raise SystemExit("migration_stress needs the embedded lab: run `make lab` first")
    rng = random.Random(seed)
    run = Run("migration_stress" + ("" if config == "lab" else "-" + config),
              {"moves": moves, "config": config, "module_args": CONFIGS[config], "seed": seed,
               "memcheck_mib": 256, "ping_interval_s": 0.1})
    rows, need_boot, checker = [], not home, False
    for fresh, loaded in plan(moves, rng, fresh_share):
        if fresh or need_boot:
            restart_guest()  # on hv1, as soon as ssh answers: the move starts within a minute
            need_boot, checker = False, False
        if not checker:
            if not answers(240):
                restart_guest()
            memcheck_start(256)
            checker = True
        src = where()[0]
        dst = "hv2" if src == "hv1" else "hv1"
        uptime = float(ssh("guest1", "cut -d' ' -f1 /proc/uptime").strip())
        row = one_move(src, dst, config, loaded, uptime)
        row["fresh_boot"] = fresh
        rows.append(row)
        print("%3d %-12s fresh=%-5s loaded=%-5s uptime=%6.1fs total=%s downtime=%s lost=%s %s"
              % (len(rows), row["direction"], fresh, loaded, row["uptime_s"], row.get("total_ms"),
                 row.get("downtime_ms"), row.get("lost_pings"), row["failure"] or "ok"), flush=True)
        if row["failure"]:
            print("    %s" % json.dumps(row.get("detail"))[:800], flush=True)
            need_boot = True
        save_partial(run, rows)
    if where() != ["hv1"]:
        restart_guest()
    total = summary(rows, config)
    run.report([("config", "config", "%s"), ("moves", "moves", "%d"), ("fresh", "fresh boot", "%d"), ("within_60s", "up <= 60 s", "%d"),
                ("loaded", "loaded", "%d"), ("failures", "failures", "%d"), ("panic", "panic", "%d"),
                ("oops", "oops", "%d"), ("lockup", "lockup", "%d"), ("hang", "hang", "%d"),
                ("memory", "memory", "%d"), ("migration", "migration", "%d"),
                ("lost_pings", "lost pings", "%d"),
                ("downtime_median_ms", "downtime med", "%s"), ("downtime_max_ms", "max", "%s"),
                ("total_median_ms", "total med (ms)", "%s"), ("total_max_ms", "max", "%s")],
               [total], dict(deb_versions("qemu-system-x86", "libvirt-daemon"), **py_versions("ansible-core")),
               extra={"moves": rows},
               notes=["fresh boot = moved as soon as ssh answered after power-on; up <= 60 s = guest uptime at the "
                      "move; loaded = 2 busy processes on the 2-core host"])
    return 1 if total["failures"] else 0
