# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dm-multipath over two iSCSI portals in the kernel testbed, and a failover sequence under fio.

Shared by tests/integration/test_multipath_failover.py and bench/multipath_failover.py.

    controller                                         testbed VM (Debian kernel)
    tgtd (control port N)  198.51.100.1:PORT   sanbr0 --- sbtestbed0 --- NIC1 198.51.100.30 (+ ssh)
       one target, LUN 1   198.51.100.129:PORT sanbr1 --- sbtestbed1 --- NIC2 198.51.100.158
                                                        two sessions -> sdX, sdY -> /dev/mapper/ALIAS

A path fails for real: the host side of its tap leaves its bridge (``ip link set TAP nomaster``: no
frame crosses between the VM and the lab) for longer than the path timeout, then joins it again.
Not ``ip link set TAP down``: the testbed is shared with later tests, and with its tap down the
guest's virtio TX queue stalls until the TX watchdog resets the NIC, which on a loaded machine once
took the management NIC down for the rest of a CI run. The first tap also carries ssh, so fio runs
detached in the VM (``systemd-run``) and nothing talks to the VM while the path is cut.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from _ansible import ansible_env, command, run_json  # noqa: E402  pylint: disable=wrong-import-order
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-order

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1024 * 1024
# (controller address, testbed address, host tap) of path A and path B.
PATHS = (("198.51.100.1", "198.51.100.30", "sbtestbed0"), ("198.51.100.129", "198.51.100.158", "sbtestbed1"))
# The timers come from the multipath profile of roles/iscsi_initiator: a dead path is noticed after
# noop_out_interval + noop_out_timeout, its I/O is failed to dm-multipath after replacement_timeout,
# multipathd checks paths every polling_interval seconds; Rig.path_timeout reads them back.
FIO_DIR = "/root/sbmpath-fio"
# Files of the testbed the roles change (initiator name, iscsid.conf timers): saved before, put back after.
SAVED = ("/etc/iscsi/iscsid.conf", "/etc/iscsi/initiatorname.iscsi")
SAVE_DIR = "/root/sbmpath-saved"


# Every play of the rig: the testbed by address, no facts, its Python.
PLAY_HEADER = """- hosts: all
  gather_facts: false
  vars:
    ansible_python_interpreter: /usr/bin/python3
"""


def cut(tap):
    """Take ``tap`` out of its bridge; returns the bridge (None when it had none)."""
    master = "/sys/class/net/%s/master" % tap
    bridge = os.path.basename(os.readlink(master)) if os.path.islink(master) else None
    if bridge:
        _CUT[tap] = bridge
        subprocess.run(["ip", "link", "set", "dev", tap, "nomaster"], check=True)
    return bridge


def rejoin(tap, check=True):
    """Put a tap that :func:`cut` took out back into its bridge (and up)."""
    bridge = _CUT.pop(tap, None)
    if bridge:
        subprocess.run(["ip", "link", "set", "dev", tap, "master", bridge], check=check)
    subprocess.run(["ip", "link", "set", "dev", tap, "up"], check=check)


_CUT = {}


class Rig(object):
    """A throwaway tgtd with one LUN and two portals, logged in from the testbed over both."""

    def __init__(self, bed, workdir, control, port, iqn, alias, lun_mib=512):
        self.bed, self.workdir, self.control, self.port = bed, workdir, control, port
        self.iqn, self.alias, self.lun_mib = iqn, alias, lun_mib
        self.portals = ["%s:%d" % (p[0], port) for p in PATHS]
        self.tgtd, self.wwid, self.runs, self.play = None, None, [], None

    # ---- target side (controller) ----
    def start_target(self):
        lun = os.path.join(self.workdir, "lun1.img")
        with open(lun, "wb") as handle:
            handle.truncate(self.lun_mib * MIB)
        self.tgtd = Tgtd(self.control, self.portals[0]).start()
        # tgtd's --iscsi portal= takes one address: the second portal is added at runtime.
        self.tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", "portal=%s" % self.portals[1])
        self.tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", self.iqn)
        self.tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", lun)
        for _ctl, guest, _tap in PATHS:
            self.tgtd.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", guest)

    # ---- initiator side (testbed) ----
    def login(self):
        """Log in over both portals and build the map (roles iscsi_initiator, multipath); the recap."""
        self.bed.run("test -d {d} || (mkdir -p {d} && cp -a {f} {d}/); dmesg -C; systemctl start iscsid multipathd"
                     .format(d=SAVE_DIR, f=" ".join(SAVED)))
        return self._login_roles()

    def _playbook(self, text):
        path = os.path.join(self.workdir, "mp-%d.yml" % len(self.runs))
        with open(path, "w") as handle:
            handle.write(text)
        env = ansible_env(**self.bed.ansible_env)
        proc, out = run_json([command("ansible-playbook"), "-i", "%s," % self.bed.host, path], env=env, timeout=600)
        assert proc.returncode == 0 and out, "%s\n%s" % (proc.stdout[-6000:], proc.stderr[-3000:])
        self.runs.append(out)
        return out["stats"][self.bed.host]

    def _login_roles(self):
        """The contract of issue 11: role iscsi_initiator (module iscsi_initiator) on both portals with the
        multipath profile, then role multipath with an alias for the LUN's WWID."""
        play = """---
%(header)s  roles:
    - role: sanboot.lab.iscsi_initiator
      vars:
        iscsi_initiator_profile: multipath
        iscsi_initiator_targets:
          - {target: %(iqn)s, portals: %(portals)s, node_startup: manual}
  post_tasks:
    - name: The LUN's WWID
      ansible.builtin.set_fact:
        sbmp_wwid: "{{ iscsi_initiator_sessions | map(attribute='devices') | flatten
                       | map(attribute='wwid') | unique | first }}"
%(header)s  roles:
    - role: sanboot.lab.multipath
      vars:
        multipath_aliases: [{wwid: "{{ sbmp_wwid }}", alias: %(alias)s}]
""" % {"iqn": self.iqn, "portals": json.dumps(self.portals), "alias": self.alias, "header": PLAY_HEADER}
        stats = self._playbook(play)
        self.wwid = None            # multipathd may build the map after the play (uevents): wait_paths asks
        self.wait_paths(2, timeout=60)
        self.play = play
        return stats

    def rerun_roles(self):
        """Apply the same play again: the recap of the re-run (changed must be 0)."""
        return self._playbook(self.play)

    def changed_tasks(self):
        """``[(task name, result)]`` of the changed tasks in the last playbook run (for messages)."""
        return [(task["task"]["name"], {k: v for k, v in res.items() if k in ("diff", "msg", "commands", "changes")})
                for play in self.runs[-1]["plays"] for task in play["tasks"]
                for res in task["hosts"].values() if res.get("changed")]

    def timers(self):
        """``{replacement_timeout, noop_out_interval, noop_out_timeout, polling_interval}`` in use
        (the node record of the first portal, multipathd's configuration)."""
        node = self.bed.run("iscsiadm -m node -T %s -p %s" % (self.iqn, self.portals[0])).stdout
        out = {}
        for key, name in (("node.session.timeo.replacement_timeout", "replacement_timeout"),
                          ("node.conn[0].timeo.noop_out_interval", "noop_out_interval"),
                          ("node.conn[0].timeo.noop_out_timeout", "noop_out_timeout")):
            line = [ln for ln in node.splitlines() if ln.startswith(key + " = ")]
            out[name] = int(line[0].split(" = ", 1)[1])
        config = self.bed.run("multipathd show config").stdout.split()
        out["polling_interval"] = int(config[config.index("polling_interval") + 1])
        return out

    def path_timeout(self):
        """Seconds until a dead path's I/O is failed over and multipathd has checked it (the sum)."""
        return sum(self.timers().values())

    def path_device(self, portal):
        """sdX of LUN 1 behind ``portal`` (from /dev/disk/by-path)."""
        link = "/dev/disk/by-path/ip-%s-iscsi-%s-lun-1" % (portal, self.iqn)
        return os.path.basename(self.bed.run("readlink -f %s" % link).stdout.strip())

    def paths(self, check=True):
        """``[{dev, dm_state, checker, dev_state}]`` of the map's paths (multipathd show paths)."""
        proc = self.bed.run("multipathd show paths raw format '%w %d %t %T %o'", check=check, timeout=30)
        rows = [line.split() for line in proc.stdout.splitlines()]
        return [dict(zip(("dev", "dm_state", "checker", "dev_state"), r[1:5])) for r in rows
                if len(r) >= 5 and r[0] == self.wwid]

    def wait_paths(self, count, timeout):
        """Wait until ``count`` paths are active and ready; returns the seconds waited."""
        start = time.monotonic()
        while True:
            try:
                if not self.wwid:   # the map of the alias, once multipathd has made it
                    self.wwid = self.bed.run("multipathd show maps raw format '%%w %%n' | awk '$2 == \"%s\" "
                                             "{print $1}'" % self.alias, check=False, timeout=30).stdout.strip()
                paths = self.paths(check=False) if self.wwid else []
            except subprocess.TimeoutExpired:
                paths = []
            good = [p for p in paths if p["dm_state"] == "active" and p["checker"] == "ready"]
            if len(good) >= count:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError("%d active paths of map %s (%s) expected within %d s: %s"
                                     % (count, self.alias, self.wwid or "not made", timeout, paths))
            time.sleep(1)

    def make_filesystem(self):
        self.bed.run("mkfs.ext4 -q -F /dev/mapper/%s && mkdir -p /mnt/%s && mount /dev/mapper/%s /mnt/%s"
                     % (self.alias, self.alias, self.alias, self.alias))

    def cleanup(self):
        """Undo everything on both sides (also after a failure half-way)."""
        for _ctl, _guest, tap in PATHS:
            rejoin(tap, check=False)
        if self.bed is not None:
            self.bed.run("systemctl stop sbmpath-fio 2>/dev/null; systemctl reset-failed sbmpath-fio 2>/dev/null; "
                         "umount /mnt/{a} 2>/dev/null; multipath -f {a} 2>/dev/null; "
                         "iscsiadm -m node -T {t} -u; iscsiadm -m node -T {t} -o delete; "
                         "for p in {p}; do iscsiadm -m discoverydb -t st -p $p -o delete; done; "
                         "rm -f /etc/multipath.conf; multipath -W; systemctl restart multipathd; "
                         "if test -d {s}; then cp -a {s}/. /etc/iscsi/ && rm -rf {s} && systemctl restart iscsid; fi; "
                         "rm -rf {d} /mnt/{a}; udevadm settle".format(
                             a=self.alias, t=self.iqn, d=FIO_DIR, s=SAVE_DIR, p=" ".join(self.portals)),
                         check=False, timeout=120)
        if self.tgtd is not None:
            self.tgtd.stop()
            self.tgtd = None


def fio_job(alias, runtime, size_mib=128):
    """A fio job writing 4 KiB blocks through the map with crc32c verification of every block."""
    return ("[global]\nfilename=/mnt/%s/fio.dat\nsize=%dm\nbs=4k\nrw=randwrite\nioengine=libaio\niodepth=4\n"
            "direct=1\nverify=crc32c\nverify_backlog=64\nverify_fatal=1\ntime_based=1\nruntime=%d\n"
            "write_lat_log=%s/lat\nlog_unix_epoch=1\nlog_avg_msec=100\nlog_max_value=1\n[failover]\n"
            % (alias, size_mib, runtime, FIO_DIR))


def guest_clock_offset(bed):
    """Guest clock minus host clock in seconds (the ssh round trip halved out)."""
    before = time.time()
    guest = float(bed.run("date +%s.%N").stdout)
    return guest - (before + time.time()) / 2


def failover_sequence(rig, outage, settle=10, recover_budget=30, recover_timeout=90):
    """fio through the map while path A, then path B goes down for ``outage`` seconds.

    fio runs for a fixed time (so that it can end with exit status 0): the planned sequence with
    ``recover_budget`` seconds per path to come back; ``under_load`` says whether the whole sequence
    happened while fio was still running (a slower recovery, up to ``recover_timeout``, ends with
    under_load false rather than an early failure).

    Returns ``{"fio": {rc, json, stderr}, "failovers": [{path, tap, down, up, recovered, ...}],
    "latency_log": [(host_time, max_latency_s)], "offset": guest - host clock, "runtime",
    "under_load"}``."""
    bed = rig.bed
    runtime = int(settle + 2 * (outage + recover_budget + settle))
    offset = guest_clock_offset(bed)
    bed.run("rm -rf {d} && mkdir -p {d} && cat > {d}/job.fio <<'EOF'\n{j}EOF\n"
            "systemd-run --unit sbmpath-fio --remain-after-exit sh -c "
            "'cd {d} && fio --output-format=json --output=fio.json job.fio 2>fio.err; echo $? > fio.rc'"
            .format(d=FIO_DIR, j=fio_job(rig.alias, runtime)))
    started = time.time()
    time.sleep(settle)
    events = []
    for (_ctl, _guest, tap), name in zip(PATHS, ("A", "B")):
        down = time.time()
        assert cut(tap), "%s is in no bridge" % tap
        try:
            time.sleep(outage)
        finally:
            rejoin(tap)
        up = time.time()
        rig.wait_paths(2, timeout=recover_timeout)
        events.append({"path": name, "tap": tap, "down": down, "up": up, "recovered": time.time()})
        time.sleep(settle)
    deadline = started + runtime + 120
    while bed.run("test -s %s/fio.rc" % FIO_DIR, check=False).returncode != 0:
        assert time.time() < deadline, "fio did not finish in %d s" % (runtime + 120)
        time.sleep(5)
    rc = int(bed.run("cat %s/fio.rc" % FIO_DIR).stdout)
    out = bed.run("cat %s/fio.json; echo; echo ==ERR==; cat %s/fio.err" % (FIO_DIR, FIO_DIR)).stdout
    report, err = out.split("\n==ERR==\n", 1)
    try:
        parsed = json.loads(report[report.index("{"):])
    except ValueError:
        parsed = None
    log = []
    for line in bed.run("cat %s/lat_lat.1.log" % FIO_DIR).stdout.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) >= 2:
            # log_unix_epoch: guest ms since the epoch; values in ns (max of each 100 ms window)
            log.append((int(fields[0]) / 1000.0 - offset, int(fields[1]) / 1e9))
    for ev in events:
        window = [(t, v) for t, v in log if ev["down"] <= t <= ev["recovered"] + settle]
        times = [t for t, _v in window]
        ev.update(outage_s=round(ev["up"] - ev["down"], 2), recovered_s=round(ev["recovered"] - ev["up"], 2),
                  max_latency_s=round(max([v for _t, v in window] or [0.0]), 3),
                  max_gap_s=round(max([b - a for a, b in zip(times, times[1:])] or [0.0]), 3))
    return {"fio": {"rc": rc, "json": parsed, "stderr": err}, "failovers": events, "latency_log": log,
            "offset": offset, "runtime": runtime, "under_load": events[-1]["recovered"] < started + runtime}


def map_io_errors(bed, alias):
    """Kernel messages naming an I/O or file system error on the map itself (path errors are expected)."""
    dm = os.path.basename(bed.run("readlink -f /dev/mapper/%s" % alias).stdout.strip())
    text = bed.run("dmesg").stdout
    return [ln for ln in text.splitlines() if (dm and "dev %s," % dm in ln) or "EXT4-fs error" in ln
            or "Buffer I/O error" in ln]


__all__ = ["Rig", "PATHS", "failover_sequence", "map_io_errors"]
