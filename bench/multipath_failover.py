# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stall of a dm-multipath failover under fio, in the kernel testbed, per path lost.

``python -m bench multipath_failover [--rounds 1] [--outage S]``. The same setup and sequence as
tests/integration/test_multipath_failover.py (tests/integration/_multipath.py): a throwaway tgtd on
control port 89 with portals 198.51.100.1:3266 and 198.51.100.129:3266, the testbed logged in over
both (sanbr0 and sanbr1), ext4 on /dev/mapper/sbbench, fio 4 KiB random writes with crc32c
verification (iodepth 4, direct). Each round cuts path A's tap from its bridge for ``--outage`` seconds (default:
the path timeout in use + 6 s), waits for both paths, then path B's. Per failover it records the outage, the
longest I/O latency in the window from link down to both paths active again (fio's lat log, the
maximum of each 100 ms), the longest gap between logged completions, and how long after link up
both paths were active again. Uses a running testbed (playbooks/testbed_up.yml) or starts one and
stops it afterwards; holds the testbed lock meanwhile. Everything is undone, also on failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from bench._common import ROOT, Run, deb_versions

sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
# pylint: disable=wrong-import-position,import-error
import _testbed  # noqa: E402
from _multipath import Rig, failover_sequence, map_io_errors  # noqa: E402

CONTROL, PORT = 89, 3266
IQN = "iqn.2024-01.lab.sanboot.bench:multipath-failover"
ALIAS = "sbbench"
COLUMNS = [("round", "round", "%d"), ("path", "path lost", "%s"), ("outage_s", "outage (s)", "%.1f"),
           ("max_latency_s", "longest I/O (s)", "%.2f"), ("max_gap_s", "longest gap (s)", "%.2f"),
           ("recovered_s", "paths back after up (s)", "%.1f"), ("fio_ok", "fio ok", "%s")]


def guest_versions(bed):
    out = bed.run("uname -r; dpkg-query -W -f='${Package} ${Version}\\n' multipath-tools open-iscsi fio",
                  check=False).stdout.split("\n")
    versions = {"kernel": out[0].strip()}
    versions.update(dict(ln.split(" ", 1) for ln in out[1:] if " " in ln))
    return versions


def one_round(bed, outage, workdir, number):
    rig = Rig(bed, workdir, CONTROL, PORT, IQN, ALIAS)
    try:
        rig.start_target()
        rig.login()
        rig.make_filesystem()
        timers = rig.timers()
        outage = outage or sum(timers.values()) + 6
        result = failover_sequence(rig, outage=outage)
        job = (result["fio"]["json"] or {}).get("jobs", [{}])[0]
        ok = (result["fio"]["rc"] == 0 and job.get("error") == 0 and not map_io_errors(bed, ALIAS)
              and len(rig.paths()) == 2)
        rows = [{"round": number, "path": ev["path"], "outage_s": ev["outage_s"], "max_latency_s": ev["max_latency_s"],
                 "max_gap_s": ev["max_gap_s"], "recovered_s": ev["recovered_s"], "fio_ok": "yes" if ok else "NO"}
                for ev in result["failovers"]]
        raw = {"failovers": result["failovers"], "fio_rc": result["fio"]["rc"], "fio_stderr": result["fio"]["stderr"],
               "runtime_s": result["runtime"], "timers": timers, "path_timeout_s": sum(timers.values()), "clock_offset_s": result["offset"],
               "write_iops": job.get("write", {}).get("iops"), "verify_via": "roles",
               "clat_max_s": job.get("write", {}).get("clat_ns", {}).get("max", 0) / 1e9,
               "latency_log": [[round(t, 3), round(v, 4)] for t, v in result["latency_log"]]}
        return rows, raw
    finally:
        rig.cleanup()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench multipath_failover", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="failover sequences (A then B each)")
    parser.add_argument("--outage", type=float, default=None,
                        help="seconds each link stays down (default: the path timeout in use + 6)")
    args = parser.parse_args(argv)
    run = Run("multipath_failover", {"rounds": args.rounds, "outage_s": args.outage or "path timeout + 6",
                                     "fio": "4k randwrite iodepth 4 direct, verify=crc32c verify_backlog=64"})
    lock = _testbed._lock()  # pylint: disable=protected-access
    bed = _testbed.Testbed(os.environ.get("SANBOOT_TESTBED", _testbed.DEFAULT_HOST),
                           os.environ.get("SANBOOT_TESTBED_KEY", _testbed.DEFAULT_KEY))
    started = False
    rows, raw = [], []
    try:
        if not bed.answers():
            started = True
            _testbed._playbook("testbed_up.yml")  # pylint: disable=protected-access
        with tempfile.TemporaryDirectory(prefix="sanboot-bench-mp-") as tmp:
            for number in range(1, args.rounds + 1):
                r, x = one_round(bed, args.outage, tmp, number)
                rows += r
                raw.append(x)
        tools = dict(deb_versions("tgt"), **guest_versions(bed))
    finally:
        if started:
            _testbed._playbook("testbed_down.yml")  # pylint: disable=protected-access
        lock.close()
    run.report(COLUMNS, rows, tools, notes=[
        "testbed: QEMU/TCG, 1 vCPU, two virtio NICs on sanbr0/sanbr1; tgtd on the controller, LUN a sparse file",
        "a path fails by taking the host side of its tap out of its bridge; path timeout = replacement_timeout + "
        "noop_out_interval + noop_out_timeout + multipathd polling_interval, read back (raw.timers)",
        "longest I/O: max of fio's lat log (100 ms windows) from link down to both paths active again"],
        extra={"raw": raw})


if __name__ == "__main__":
    main(sys.argv[1:])
