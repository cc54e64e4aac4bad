# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iSCSI throughput and IOPS of a real tgtd on loopback (userspace initiators).

``python -m bench tgt_throughput [--mib 256] [--seconds 4]``. Starts tgtd on control port 70 with
the portal 127.0.0.1:3291, exports a sparse file (256 MiB) as LUN 1 to 127.0.0.1 and measures, in
this order (each run bounded by a count or by ``--seconds``, each command by a 60 s timeout):

* ``qemu-img bench -w`` (driver=iscsi, ``--image-opts``): 128 KiB sequential writes over the whole
  LUN, depth 16 (this also fills the sparse file, so later reads read data);
* ``qemu-img bench``: 128 KiB sequential reads, twice the LUN (the offset wraps), depth 16;
* ``iscsi-perf``: 128 KiB sequential reads for ``--seconds``, 16 requests in flight;
* ``iscsi-perf -r``: 4 KiB random reads for ``--seconds``, 16 requests in flight;
* ``qemu-img bench -w``: 4 KiB sequential writes, and 4 KiB writes in scattered order: the step
  (40503 blocks) is odd, so ``offset = k * step mod size`` visits every 4 KiB block once in a
  pseudo-random order (qemu-img has no random mode; fio here has no libiscsi engine).

MB/s are 10^6 bytes per second, MiB/s 2^20. tgtd is stopped by PID afterwards, also on failure.
"""

from __future__ import annotations

import argparse
import re
import tempfile

from bench import _common

CONTROL, PORT = 70, 3291
PORTAL = "127.0.0.1:%d" % PORT
IQN = "iqn.2024-01.lab.sanboot.bench:tgt-throughput"
KIB = 1024
DEPTH = 16
SCATTER_STEP = 40503                      # odd: a full cycle over any power-of-two block count
TIMEOUT = 60

COLUMNS = [("test", "test", "%s"), ("tool", "tool", "%s"), ("block_bytes", "block", "%d"),
           ("depth", "depth", "%d"), ("ops", "ops", "%d"), ("seconds", "s", "%.2f"),
           ("iops", "IOPS", "%.0f"), ("mb_per_s", "MB/s", "%.1f"), ("mib_per_s", "MiB/s", "%.1f")]


def row(test, tool, block, ops, seconds):
    return {"test": test, "tool": tool, "block_bytes": block, "depth": DEPTH, "ops": ops,
            "seconds": round(seconds, 3), "iops": round(ops / seconds),
            "mb_per_s": round(ops * block / seconds / 1e6, 1),
            "mib_per_s": round(ops * block / seconds / _common.MIB, 1)}


def qemu_img_bench(test, block, count, write=False, step=None):
    opts = "driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1" % (PORTAL, IQN)
    argv = ["qemu-img", "bench", "--image-opts", "-d", str(DEPTH), "-c", str(count), "-s", str(block)]
    argv += (["-w"] if write else []) + (["-S", str(step)] if step else []) + [opts]
    out = _common.run(argv, timeout=TIMEOUT)[0].stdout
    seconds = float(re.search(r"Run completed in ([0-9.]+) seconds", out).group(1))
    return row(test, "qemu-img bench", block, count, seconds)


def iscsi_perf(test, block, seconds, random=False):
    argv = ["iscsi-perf", "-m", str(DEPTH), "-b", str(block // 512), "-t", str(seconds)]
    argv += (["-r"] if random else []) + ["iscsi://%s/%s/1" % (PORTAL, IQN)]
    out = _common.run(argv, timeout=seconds + TIMEOUT)[0].stdout
    iops = int(re.findall(r"iops average (\d+)", out)[-1])
    return row(test, "iscsi-perf", block, iops * seconds, seconds)


def measure(lun_bytes, seconds):
    count = lun_bytes // (128 * KIB)
    return [
        qemu_img_bench("seq write 128K", 128 * KIB, count, write=True),
        qemu_img_bench("seq read 128K", 128 * KIB, 2 * count),
        iscsi_perf("seq read 128K", 128 * KIB, seconds),
        iscsi_perf("random read 4K", 4 * KIB, seconds, random=True),
        qemu_img_bench("seq write 4K", 4 * KIB, 20000, write=True),
        qemu_img_bench("scattered write 4K", 4 * KIB, 20000, write=True, step=SCATTER_STEP * 4 * KIB),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench tgt_throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="LUN size in MiB (a power of two)")
    parser.add_argument("--seconds", type=int, default=4, help="duration of each iscsi-perf run")
    args = parser.parse_args(argv)
    run = _common.Run("tgt_throughput", {"lun_mib": args.mib, "iscsi_perf_seconds": args.seconds,
                                         "depth": DEPTH, "portal": PORTAL, "backing": "sparse file"})
    with tempfile.TemporaryDirectory(prefix="sanboot-bench-tgt-") as tmp:
        disk = _common.sparse_file("%s/lun1.img" % tmp, args.mib * _common.MIB)
        with _common.tgtd(CONTROL, PORTAL) as tgtd:
            tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
            tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1",
                        "--lun", "1", "-b", disk)
            tgtd.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1",
                        "-I", "127.0.0.1")
            rows = measure(args.mib * _common.MIB, args.seconds)
    tools = _common.deb_versions("tgt", "libiscsi-bin", "qemu-utils", "qemu-block-extra")
    run.report(COLUMNS, rows, tools, notes=[
        "loopback TCP on a shared 2-core machine; the backing file lives in the page cache",
        "scattered write 4K: offsets k * %d * 4 KiB mod LUN size (every block once)" % SCATTER_STEP])
    return rows


if __name__ == "__main__":
    main()
