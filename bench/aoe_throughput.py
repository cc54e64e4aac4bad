# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sequential AoE read throughput of the collection's userspace client against vblade.

Run as root: ``python -m bench aoe_throughput [--mib 64]``.  For each MTU (1500, 9000)
it makes two network namespaces (``sbaoe-bt`` target, ``sbaoe-bc`` client) joined by a veth pair,
starts ``vblade`` on a sparse file in the target namespace, reads the whole file with
``_protocol.AoEClient`` (one request in flight) in the client namespace, prints a table and writes
JSON to ``bench/results/aoe_throughput.json``.  Everything it started is stopped by pid.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile

from bench import _common

ROOT = _common.ROOT
COLUMNS = [("mtu", "MTU", "%d"), ("sectors_per_request", "sect/req", "%d"), ("bytes", "bytes", "%d"),
           ("seconds", "s", "%.2f"), ("mib_per_s", "MiB/s", "%.1f")]
NS_T, NS_C = "sbaoe-bt", "sbaoe-bc"
CLIENT = r"""
import sys, time
sys.path.insert(0, %(tree)r)
from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol
with _protocol.AoEClient("sbaoe-bcv", timeout=1.0, retries=3) as c:
    t = c.discover(42, 0)[0]
    sectors = c.identify(t)["sectors"]
    step = _protocol.max_sectors(c.mtu, t["sector_count"])
    start = time.monotonic()
    lba = 0
    while lba < sectors:
        n = min(1024, sectors - lba)
        c.read(t, lba, n)
        lba += n
    took = time.monotonic() - start
print(sectors * 512, took, step)
"""


def sh(*argv):
    subprocess.run(argv, check=True)


def run_once(mtu, mib, tmp):
    disk = os.path.join(tmp, "bench.img")
    with open(disk, "wb") as f:
        f.truncate(mib * 1024 * 1024)
    vblade = None
    try:
        sh("ip", "netns", "add", NS_T)
        sh("ip", "netns", "add", NS_C)
        sh("ip", "link", "add", "sbaoe-btv", "netns", NS_T, "mtu", str(mtu), "type", "veth", "peer", "name",
           "sbaoe-bcv", "netns", NS_C, "mtu", str(mtu))
        sh("ip", "-n", NS_T, "link", "set", "sbaoe-btv", "up")
        sh("ip", "-n", NS_C, "link", "set", "sbaoe-bcv", "up")
        vblade = subprocess.Popen(  # pylint: disable=consider-using-with
            ["ip", "netns", "exec", NS_T, "vblade", "42", "0", "sbaoe-btv", disk],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        vblade.stdout.readline()                                     # "pid N: e42.0, ... sectors"
        code = CLIENT % {"tree": os.path.join(ROOT, ".cache", "pytest-collections")}
        out = subprocess.run(["ip", "netns", "exec", NS_C, sys.executable, "-c", code], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
        size, took, step = int(out[0]), float(out[1]), int(out[2])
        return {"mtu": mtu, "bytes": size, "seconds": round(took, 3), "sectors_per_request": step,
                "mib_per_s": round(size / took / 1048576, 1)}
    finally:
        if vblade is not None:
            os.killpg(vblade.pid, signal.SIGTERM)
            vblade.wait()
        for ns in (NS_T, NS_C):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench aoe_throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="size of the exported file in MiB")
    args = parser.parse_args(argv)
    run = _common.Run("aoe_throughput", {"mib": args.mib, "requests_in_flight": 1,
                                         "link": "veth between two network namespaces"})
    if not os.path.exists(os.path.join(ROOT, ".cache", "pytest-collections")):
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import conftest  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel,import-error
    rows = []
    with tempfile.TemporaryDirectory(prefix="aoe-bench-") as tmp:
        for mtu in (1500, 9000):
            rows.append(run_once(mtu, args.mib, tmp))
    run.report(COLUMNS, rows, _common.deb_versions("vblade"))
    return rows


if __name__ == "__main__":
    main()
