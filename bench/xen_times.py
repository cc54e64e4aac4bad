# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Xen half of the embedded lab: boot times and what the domU's clocksource changes.

Needs ``make lab-xen`` (xen1 198.51.100.51 and xen2 .52, Debian 12 dom0s under QEMU/TCG with
``xl``; PV domU guest4 198.51.100.64, root on iSCSI, ``/etc/xen/guest4.cfg`` on both dom0s).

1. Xen hosts: the boot time role ``xen_lab`` recorded for each host's last start (power-on to a
   working ``xl info`` over ssh), ``/var/lib/sanboot-lab/xen/HOST/boot_seconds``.
2. domU boot, ROUNDS times: ``xl shutdown -w guest4`` where it runs (``xl destroy`` after 120 s),
   ``xl create /etc/xen/guest4.cfg`` on xen1 (time 0 = the ``xl create`` call), ssh polled every
   0.5 s: first answer, ``systemctl is-system-running`` = running/degraded; ``systemd-analyze time``.
3. Clocksource, per VARIANT (``default``: the configured ``clocksource=jiffies``; ``xen``:
   ``clocksource=xen`` instead; ``none``: no ``clocksource=``, the kernel picks): guest4 created
   on xen1 with that ``extra=`` (``xl create CFG 'extra="..."'``), then the current and available
   clocksource, the guest clock's offset against this machine (midpoint of the round trip of one
   line over an open ssh session, the sample with the smallest of 7 round trips), its uptime
   against the real time elapsed, and a cold move (``sanboot.lab.live_migration`` ``driver: xl,
   mode: cold``, ad hoc ``ansible`` on the source dom0) to xen2 and back; after each move: ssh
   answers, ``/`` still writable, the offset, the uptime gained against the real time, and the
   new kernel log lines (``dmesg`` after minus before) about clocks, timers, iSCSI and stalls.

guest4 is always left created on xen1 with the plain configuration (also after a failure).

``python -m bench xen_times [ROUNDS] [VARIANT ...]`` (default 2 rounds, all variants; ROUNDS 0
keeps the boot rounds of the previous bench/results/xen_times.json; variants not named keep
their previous results, with the date of their run).
Environment: ``XEN_BENCH_REPO`` - the checkout whose inventories/local (hosts xen1, xen2),
ansible.cfg and .venv are used for the moves (default: this checkout).
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import statistics
import subprocess
import sys
import time

from bench._common import Run, print_table, py_versions

KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"
HOSTS = {"xen1": "198.51.100.51", "xen2": "198.51.100.52", "guest4": "198.51.100.64"}
DOM0S = ("xen1", "xen2")
DOMAIN = "guest4"
CFG = "/etc/xen/guest4.cfg"
LAB_DIR = "/var/lib/sanboot-lab/xen"
BOOT_TIMEOUT = 420          # the lab's boot allowance of guest4 (playbooks/xen.yml)
VARIANTS = ("default", "xen", "none")
KERNEL_LINES = re.compile(r"clock|time|watchdog|iscsi|connection|tsc|hung|rcu", re.I)
SSH_OPTS = ["-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def repo():
    from bench._common import ROOT  # noqa: PLC0415  pylint: disable=import-outside-toplevel
    return os.environ.get("XEN_BENCH_REPO", ROOT)


def ssh(host, command, timeout=30):
    """``(rc, stdout, stderr)`` of ``command`` on a lab host (rc 255: no connection or timeout)."""
    try:
        proc = subprocess.run(["ssh", "-q"] + SSH_OPTS + ["-o", "ConnectTimeout=3", "root@%s" % HOSTS[host], command],
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 255, "", "timeout"
    return proc.returncode, proc.stdout, proc.stderr


def must(host, command, timeout=60):
    rc, out, err = ssh(host, command, timeout)
    if rc != 0:
        raise RuntimeError("ssh %s %r: rc %d %s" % (host, command, rc, (err or out).strip()[-300:]))
    return out


def where():
    """The dom0s on which guest4 exists (running, paused or being built)."""
    return [d for d in DOM0S if ssh(d, "xl list %s >/dev/null 2>&1" % DOMAIN, timeout=20)[0] == 0]


def stop_guest():
    """``xl shutdown -w`` guest4 wherever it is (``xl destroy`` after 120 s); seconds taken."""
    start = time.monotonic()
    for dom0 in where():
        ssh(dom0, "timeout 120 xl shutdown -w %s >/dev/null 2>&1 || xl destroy %s" % (DOMAIN, DOMAIN), timeout=150)
    # xl shutdown -w returns when the guest has shut down; xl's monitor destroys it just after
    for destroy in (False, True):
        end = time.monotonic() + 30
        while where() and time.monotonic() < end:
            time.sleep(1)
        for dom0 in where() if destroy else []:
            ssh(dom0, "xl destroy %s" % DOMAIN, timeout=60)
    left = where()
    if left:
        raise RuntimeError("%s still exists on %s after xl shutdown/destroy" % (DOMAIN, ", ".join(left)))
    return time.monotonic() - start


def create(extra=None):
    """``xl create`` guest4 on xen1 (``extra``: the kernel command line instead of the file's);
    returns the monotonic time of the call (time 0) and the seconds ``xl create`` took."""
    command = "xl create %s" % CFG
    if extra is not None:
        command += " %s" % shlex.quote('extra="%s"' % extra)
    t0 = time.monotonic()
    rc, out, err = ssh("xen1", command, timeout=120)
    if rc not in (0, 255):  # e.g. "cannot make domain" while Xen still frees the last one: once more
        time.sleep(15)
        t0 = time.monotonic()
        rc, out, err = ssh("xen1", command, timeout=120)
    if rc != 0:
        raise RuntimeError("ssh xen1 %r: rc %d %s" % (command, rc, (err or out).strip()[-300:]))
    return t0, time.monotonic() - t0


def wait_up(t0, timeout=BOOT_TIMEOUT):
    """Poll guest4 every 0.5 s from ``t0``: seconds to the first ssh answer and to multi-user."""
    first = None
    while time.monotonic() - t0 < timeout:
        rc, out, _err = ssh(DOMAIN, "systemctl is-system-running", timeout=8)
        if rc != 255 and first is None:
            first = time.monotonic() - t0
        if out.strip() in ("running", "degraded"):
            return first, time.monotonic() - t0, out.strip()
        time.sleep(0.5)
    raise RuntimeError("%s did not reach multi-user within %d s of xl create (ssh answered after %s s)"
                       % (DOMAIN, timeout, None if first is None else round(first, 1)))


def answers(timeout):
    """Seconds until guest4 answers ssh (``None``: not within ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if ssh(DOMAIN, "true", timeout=8)[0] == 0:
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def boot_round():
    stop_s = stop_guest()
    t0, create_s = create()
    ssh_s, multi_user_s, state = wait_up(t0)
    analyze = ssh(DOMAIN, "systemd-analyze time", timeout=30)[1].splitlines()
    return {"stop_s": round(stop_s, 1), "xl_create_s": round(create_s, 2), "ssh_s": round(ssh_s, 1),
            "multi_user_s": round(multi_user_s, 1), "state": state,
            "systemd_analyze": analyze[0] if analyze else None}


def clock_sample(samples=7):
    """Guest clock against this machine over one open ssh session: the sample with the smallest
    round trip -> ``{offset_ms, rtt_ms, uptime_s, local_s}`` (uptime: the guest's /proc/uptime,
    local_s: this machine's wall clock at the midpoint); ``None`` when ssh does not answer."""
    loop = "while read -r _x; do echo $(date +%s.%N) $(cut -d' ' -f1 /proc/uptime); done"
    proc = subprocess.Popen(["ssh", "-q"] + SSH_OPTS + ["-o", "ConnectTimeout=5", "root@%s" % HOSTS[DOMAIN], loop],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1)
    best = None
    try:
        for i in range(samples + 1):
            t_a = time.time()
            proc.stdin.write("x\n")
            proc.stdin.flush()
            ready, _w, _x = select.select([proc.stdout], [], [], 30)
            if not ready:
                break
            line = proc.stdout.readline()
            t_b = time.time()
            if not line.strip():
                break
            if i == 0:  # the first answer carries the session's start-up; not a sample
                continue
            guest, uptime = (float(x) for x in line.split())
            mid = (t_a + t_b) / 2
            sample = {"offset_ms": round((guest - mid) * 1000, 1), "rtt_ms": round((t_b - t_a) * 1000, 1),
                      "uptime_s": uptime, "local_s": mid}
            if best is None or sample["rtt_ms"] < best["rtt_ms"]:
                best = sample
            time.sleep(0.1)
    except (OSError, ValueError):
        pass
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return best


def dmesg():
    rc, out, _err = ssh(DOMAIN, "dmesg", timeout=30)
    return out.splitlines() if rc == 0 else None


def new_lines(before, after):
    """Kernel log lines in ``after`` that were not in ``before`` (the ring is not expected to wrap)."""
    if before is None or after is None:
        return None
    if after[:len(before)] == before:
        return after[len(before):]
    old = set(before)
    return [ln for ln in after if ln not in old]


def clocksources():
    out = ssh(DOMAIN, "cat /sys/devices/system/clocksource/clocksource0/current_clocksource "
                      "/sys/devices/system/clocksource/clocksource0/available_clocksource", timeout=20)[1]
    lines = out.splitlines()
    return (lines[0].strip() if lines else None), (lines[1].split() if len(lines) > 1 else None)


def writable():
    """``/`` still read-write: a file created, synced and removed."""
    return ssh(DOMAIN, "f=/var/tmp/xen-bench-rw.$$ && touch $f && sync $f && rm -f $f "
                       "&& findmnt -no OPTIONS / | grep -qw rw", timeout=30)[0] == 0


def ansible_env():
    base = repo()
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_CONFIG=os.path.join(base, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(base, ".cache", "collections"))
    env["PATH"] = os.path.join(base, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    return env


def move(src, dst):
    """A cold move of guest4 ``src`` -> ``dst`` (module run on ``src``); the module's result."""
    args = {"domain": DOMAIN, "driver": "xl", "mode": "cold", "source": HOSTS[src],
            "destination": HOSTS[dst], "timeout": 600}
    base = repo()
    start = time.monotonic()
    try:
        proc = subprocess.run([os.path.join(base, ".venv", "bin", "ansible"), src,
                               "-i", os.path.join(base, "inventories", "local"),
                               "-m", "sanboot.lab.live_migration", "-a", json.dumps(args)],
                              capture_output=True, text=True, env=ansible_env(), cwd=base,
                              check=False, timeout=900, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"failed": True, "msg": "ansible did not return within 900 s"}
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][src]
    except (ValueError, KeyError, IndexError):
        result = {"failed": True, "msg": (proc.stdout + proc.stderr)[-600:]}
    result["wall_ms"] = round((time.monotonic() - start) * 1000)
    return result


def after_move(src, dst, before_clock, before_log):
    """Move guest4 and judge it: the dict of that step."""
    result = move(src, dst)
    step = {"direction": "%s -> %s" % (src, dst), "failed": bool(result.get("failed")),
            "msg": str(result.get("msg"))[:400] if result.get("failed") else None,
            "downtime_ms": result.get("downtime_ms"), "total_time_ms": result.get("total_time_ms"),
            "wall_ms": result.get("wall_ms"),
            "phases_ms": {k: (result.get("stats") or {}).get(k) for k in ("save_ms", "copy_ms", "restore_ms")},
            "runs_on": where()}
    ssh_after = answers(60)
    step["ssh_after_s"] = None if ssh_after is None else round(ssh_after, 1)
    if ssh_after is None:
        return step
    clock = clock_sample()
    step["clock"] = clock
    step["offset_ms"] = clock and clock["offset_ms"]
    if clock and before_clock:
        real = clock["local_s"] - before_clock["local_s"]
        # > 0: the guest's uptime ran ahead of the real time, < 0: the stopped time is missing
        step["uptime_vs_real_s"] = round((clock["uptime_s"] - before_clock["uptime_s"]) - real, 2)
        step["offset_change_ms"] = round(clock["offset_ms"] - before_clock["offset_ms"], 1)
    step["clocksource"] = clocksources()[0]
    step["writable"] = writable()
    log = dmesg()
    fresh = new_lines(before_log, log)
    step["kernel_new_lines"] = None if fresh is None else len(fresh)
    step["kernel_lines"] = None if fresh is None else [ln for ln in fresh if KERNEL_LINES.search(ln)][:40]
    step["_log"] = log
    return step


def variant_extra(base_extra, variant):
    if variant == "default":
        return None
    if variant == "xen":
        if "clocksource=" in base_extra:
            return re.sub(r"clocksource=\S+", "clocksource=xen", base_extra)
        return base_extra + " clocksource=xen"
    return " ".join(w for w in base_extra.split() if not w.startswith("clocksource="))


def one_variant(out, base_extra):
    """Boot guest4 with ``out["variant"]``'s command line, move it to xen2 and back; fills ``out``."""
    variant = out["variant"]
    extra = variant_extra(base_extra, variant)
    out.update(extra=base_extra if extra is None else extra, steps=[])
    stop_guest()
    t0, _create_s = create(extra)
    ssh_s, multi_user_s, _state = wait_up(t0)
    out.update(ssh_s=round(ssh_s, 1), multi_user_s=round(multi_user_s, 1))
    out["cmdline"] = ssh(DOMAIN, "cat /proc/cmdline", timeout=20)[1].strip()
    out["clocksource"], out["available"] = clocksources()
    out["boot_lines"] = [ln for ln in (dmesg() or []) if re.search(r"clocksource|tsc|xen.*clock", ln, re.I)][:20]
    for src, dst in (("xen1", "xen2"), ("xen2", "xen1")):
        log = dmesg()
        clock = clock_sample()
        step_before = {"offset_before_ms": clock and clock["offset_ms"], "clock_before": clock}
        step = after_move(src, dst, clock, log)
        step.update(step_before)
        step.pop("_log", None)
        out["steps"].append(step)
        print("  %-7s %s: %s downtime %s ms, offset %s -> %s ms, uptime vs real %s s, %s new kernel lines, rw %s"
              % (variant, step["direction"], "FAILED" if step["failed"] else "ok", step["downtime_ms"],
                 step["offset_before_ms"], step.get("offset_ms"), step.get("uptime_vs_real_s"),
                 step.get("kernel_new_lines"), step.get("writable")), flush=True)
        for line in step.get("kernel_lines") or []:
            print("      %s" % line, flush=True)
        if step["failed"] or step["ssh_after_s"] is None or where() != [dst]:
            break


def variant_row(detail):
    steps = detail.get("steps", [])

    def st(i, key):
        return steps[i].get(key) if len(steps) > i else None
    moved = [s for s in steps if not s["failed"]]
    return {"variant": detail["variant"], "clocksource": detail.get("clocksource"),
            "cs_after": st(len(steps) - 1, "clocksource") if steps else None,
            "offset_ms": st(0, "offset_before_ms"), "offset_xen2_ms": st(0, "offset_ms"),
            "offset_back_ms": st(1, "offset_ms"),
            "move_ms": st(0, "downtime_ms"), "back_ms": st(1, "downtime_ms"),
            "uptime_gap_s": st(0, "uptime_vs_real_s"), "uptime_gap_back_s": st(1, "uptime_vs_real_s"),
            "kernel_lines": sum(len(s.get("kernel_lines") or []) for s in steps),
            "ok": "yes" if len(moved) == 2 and all(s.get("writable") for s in steps) else
                  ("no: %s" % (detail.get("error") or "see steps"))[:60]}


def host_boot(host):
    path = os.path.join(LAB_DIR, host, "boot_seconds")
    try:
        with open(path, encoding="utf-8") as f:
            seconds = float(f.read().strip())
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(path)))
    except (OSError, ValueError):
        return {"what": "%s boot (last start)" % host, "n": 0, "ssh_s": None, "multi_user_s": None,
                "note": "no %s" % path}
    return {"what": "%s boot (last start)" % host, "n": 1, "ssh_s": None, "multi_user_s": seconds,
            "note": "power-on to working xl info over ssh, recorded %s" % when}


def lab_versions():
    info = ssh("xen1", "xl info", timeout=30)[1]
    facts = dict(ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
    facts = {k.strip(): v.strip() for k, v in facts.items()}
    return dict({"xen_version": "%s.%s%s" % (facts.get("xen_major"), facts.get("xen_minor"), facts.get("xen_extra")),
                 "xen_virt_caps": facts.get("virt_caps"),
                 "dom0_kernel": ssh("xen1", "uname -r", timeout=20)[1].strip() or None,
                 "xen_utils": ssh("xen1", "dpkg-query -W -f='${Version}' xen-utils-common", timeout=20)[1].strip() or None,
                 "guest4_kernel": ssh(DOMAIN, "uname -r", timeout=20)[1].strip() or None},
                **py_versions("ansible-core"))


def previous_result():
    """The last bench/results/xen_times.json (``{}`` when none)."""
    from bench._common import RESULTS  # noqa: PLC0415  pylint: disable=import-outside-toplevel
    try:
        with open(os.path.join(RESULTS, "xen_times.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main(argv):
    rounds = int(argv[0]) if argv and argv[0].isdigit() else 2
    variants = [a for a in argv if a in VARIANTS] or list(VARIANTS)
    if answers(15) is None:
        print("xen_times needs the Xen lab: run `make lab-xen` first (guest4 %s does not answer ssh)"
              % HOSTS[DOMAIN], file=sys.stderr)
        return 2
    base_extra = must("xen1", r"""sed -n 's/^extra *= *"\(.*\)".*/\1/p' %s""" % CFG, timeout=20).strip()
    if not base_extra:
        print("xen_times: no extra= line in %s on xen1" % CFG, file=sys.stderr)
        return 2
    run = Run("xen_times", {"rounds": rounds, "variants": variants, "config": CFG, "extra": base_extra,
                            "move": {"driver": "xl", "mode": "cold"}})
    versions = lab_versions()
    boot_rows = [host_boot(h) for h in DOM0S]
    previous, started = previous_result(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.started))
    rounds_raw, details, reused = [], [], None
    if rounds == 0 and previous.get("boot_rounds"):
        rounds_raw, reused = previous["boot_rounds"], previous.get("boot_rounds_date") or previous.get("date")
    try:
        for i in range(rounds):
            rounds_raw.append(boot_round())
            print("  boot round %d: %s" % (i + 1, rounds_raw[-1]), flush=True)
        for variant in VARIANTS:
            if variant not in variants:  # not measured now: the previous result's, if any
                details.extend(dict(d, date=d.get("date") or previous.get("date"))
                               for d in previous.get("variants", []) if d.get("variant") == variant)
                continue
            details.append({"variant": variant, "date": started})
            try:
                one_variant(details[-1], base_extra)
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                details[-1]["error"] = str(exc)[:400]
                print("  %s: FAILED %s" % (variant, exc), flush=True)
    finally:
        print("  back to the plain configuration on xen1 ...", flush=True)
        restore = {}
        try:
            stop_guest()
            t0, _c = create()
            restore["ssh_s"], restore["multi_user_s"], restore["state"] = wait_up(t0)
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            restore["error"] = str(exc)
            print("  restoring guest4 FAILED: %s" % exc, file=sys.stderr, flush=True)
    if rounds_raw:
        boot_rows.append({"what": "guest4 boot (xl create on xen1)", "n": len(rounds_raw),
                          "ssh_s": statistics.median(r["ssh_s"] for r in rounds_raw),
                          "multi_user_s": statistics.median(r["multi_user_s"] for r in rounds_raw),
                          "note": "median; max %.1f s; %s%s" % (
                              max(r["multi_user_s"] for r in rounds_raw), rounds_raw[0]["systemd_analyze"],
                              "; rounds of the run of %s" % reused if reused else "")})
    print_table("xen_times: boot (s)", [("what", "what", "%s"), ("n", "n", "%d"), ("ssh_s", "ssh (s)", "%.1f"),
                                        ("multi_user_s", "up (s)", "%.1f"), ("note", "note", "%s")], boot_rows)
    rows = [variant_row(d) for d in details]
    run.report(
        [("variant", "variant", "%s"), ("clocksource", "clocksource", "%s"), ("cs_after", "after moves", "%s"),
         ("offset_ms", "offset (ms)", "%.0f"), ("offset_xen2_ms", "on xen2", "%.0f"),
         ("offset_back_ms", "back on xen1", "%.0f"), ("move_ms", "move (ms)", "%d"), ("back_ms", "back (ms)", "%d"),
         ("uptime_gap_s", "uptime-real (s)", "%.1f"), ("uptime_gap_back_s", "back", "%.1f"),
         ("kernel_lines", "kernel lines", "%d"), ("ok", "ssh+rw", "%s")],
        rows, versions,
        notes=["Xen host boot: the last start's time recorded by role xen_lab (power-on to a working xl info over ssh); "
               "guest4 boot: xl create on xen1 to ssh / systemctl is-system-running running|degraded, ROUNDS rounds",
               "offset: guest wall clock minus this machine's, midpoint of the round trip over an open ssh session "
               "(smallest of 7); moves: sanboot.lab.live_migration driver xl mode cold (xl save, copy, xl restore), "
               "move (ms) = downtime_ms = the whole move; uptime-real: the guest's /proc/uptime gain minus the real "
               "time across each move (< 0: the guest lost that much time)",
               "kernel lines: new dmesg lines after the two moves matching %s" % KERNEL_LINES.pattern,
               "nested: Xen and dom0 under QEMU/TCG on a shared 2-core machine"],
        extra={"boot": boot_rows, "boot_rounds": rounds_raw,
               "boot_rounds_date": reused or started,
               "variants": details, "restored": restore})
    failed = not rounds_raw or len(rows) < len(variants) or any(r["ok"] != "yes" for r in rows) or "error" in restore
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
