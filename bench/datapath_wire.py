# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data path against the wire: raw TCP, iSCSI (tgtd) and AoE (vblade) over one veth, one run.

``python -m bench datapath_wire [--mtu 1500 --mtu 9000] [--rate 1gbit] [--quick] [--depth 16]
[--iscsi-param KEY=VALUE ...] [--iothreads N] [--aoe-buffers N] [--aoe-window N]``.  For each MTU,
unshaped and shaped to ``--rate`` (tbf on both veth ends), namespaces ``sbwire-t`` (target) and
``sbwire-c`` (client) are joined by one veth pair and, in the client namespace, measured:

* TCP: ``iperf3`` (1 stream, ``--seconds``) write (client -> target) and read (``-R``);
* iSCSI to tgtd (``-C 73``, portal 198.51.100.249:3294, LUN = a file on /dev/shm): ``qemu-img bench
  -w`` 128 KiB sequential writes, then ``qemu-img bench`` reads, each over the LUN or ``--seconds``
  at the TCP rate if more (the offset wraps), and ``iscsi-perf`` 128 KiB reads for ``--seconds``,
  each with ``--depth`` (16) requests in flight;
* AoE to vblade (e42.0, same file): ``_window.read_windowed`` over the LUN, ``--aoe-window``
  requests in flight (capped by vblade's buffer count), and, in the stock set, 16 MiB with the
  one-in-flight ``AoEClient.read``.

Each data-path number is also given as a ratio of TCP in the same direction, MTU and shaping, AoE
read against iscsi-perf read; CPU % is the target daemon's and the client tool's (100 = one core).
Without knob options two sets run: "stock" (tgtd and vblade defaults) and "tuned" (TUNED below);
with ``--iscsi-param``/``--iothreads``/``--aoe-buffers`` one set "custom" (plus stock with
``--with-stock``).  Every command has a timeout; daemons are stopped by PID, namespaces deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time

from bench import _common, _wire

CONTROL, PORT, IPERF_PORT = 73, 3294, 5299
PORTAL = "%s:%d" % (_wire.ADDR_T, PORT)
IQN = "iqn.2024-01.lab.sanboot.bench:datapath-wire"
KIB, DEPTH, BLOCK = 1024, 16, 128 * 1024
LUN_PATH = "/dev/shm/sanboot-bench-datapath-wire.img"
PARAM_KEYS = ("MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "FirstBurstLength",
              "MaxBurstLength", "MaxOutstandingR2T", "ImmediateData", "InitialR2T")
TUNED = {"params": {"MaxRecvDataSegmentLength": 262144, "MaxXmitDataSegmentLength": 262144},
         "iothreads": None, "aoe_buffers": 64, "aoe_window": 64}     # docs/benchmarks.md: what each did
STOCK = {"params": {}, "iothreads": None, "aoe_buffers": None, "aoe_window": 16}
COLUMNS = [("mtu", "MTU", "%d"), ("link", "link", "%s"), ("config", "set", "%s"), ("path", "path", "%s"),
           ("tool", "tool", "%s"), ("direction", "dir", "%s"), ("mb_per_s", "MB/s", "%.1f"),
           ("x_tcp", "x TCP", "%.2f"), ("aoe_x_iscsi", "AoE/iSCSI", "%.2f"),
           ("target_cpu", "tgt CPU%", "%.0f"), ("client_cpu", "cli CPU%", "%.0f")]
AOE_CLIENT = r"""
import resource, sys, time
sys.path.insert(0, %(tree)r)
from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol, _window
with _protocol.AoEClient(%(dev)r, timeout=1.0, retries=3) as c:
    t = c.discover(42, 0)[0]
    sectors = c.identify(t)["sectors"]
    chunk = min(sectors, 65536)
    buf = bytearray(chunk * 512)
    start = time.monotonic()
    for lba in range(0, sectors, chunk):
        _window.read_windowed(c, t, lba, min(chunk, sectors - lba), window=%(window)d, into=buf)
    took = time.monotonic() - start
    one = 0.0
    if %(single)r:
        start = time.monotonic()
        c.read(t, 0, 32768)
        one = time.monotonic() - start
print(sectors * 512, took, one, t["buffer_count"], _window.effective_window(t, %(window)d))
"""


def timed(argv, timeout):
    """Run ``argv`` in the client namespace -> (stdout, wall s, client CPU s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc, wall = _common.run(_wire.in_ns(_wire.NS_C, argv), timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return proc.stdout, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def with_cpu(daemon, func):
    """``func()`` -> (row dict with mb_per_s, seconds, client_cpu_s); adds the daemon's CPU %."""
    cpu0 = daemon.cpu()
    row = func()
    cpu1 = daemon.cpu()
    if cpu0 is not None and cpu1 is not None and row.get("seconds"):
        row["target_cpu"] = round(100 * (cpu1 - cpu0) / row["seconds"])
    if row.get("client_cpu_s") is not None and row.get("seconds"):
        row["client_cpu"] = round(100 * row.pop("client_cpu_s") / row["seconds"])
    return row


def tcp(seconds):
    server = _wire.Daemon(["iperf3", "-s", "-B", _wire.ADDR_T, "-p", str(IPERF_PORT)],
                          ready=lambda d: "LISTEN" in _wire.sh(*_wire.in_ns(_wire.NS_T, [
                              "ss", "-Hltn", "sport = :%d" % IPERF_PORT])).stdout).start()
    rows = []
    try:
        for direction, extra in (("write", ()), ("read", ("-R",))):
            def one(extra=extra, direction=direction):
                out, _wall, cpu = timed(["iperf3", "-c", _wire.ADDR_T, "-p", str(IPERF_PORT), "-t",
                                         str(seconds), "-J"] + list(extra), seconds + 30)
                end = json.loads(out)["end"]
                return {"path": "TCP", "tool": "iperf3", "direction": direction, "seconds": seconds,
                        "mb_per_s": round(end["sum_received"]["bits_per_second"] / 8e6, 1),
                        "client_cpu_s": cpu, "retransmits": end["sum_sent"].get("retransmits")}
            rows.append(with_cpu(server, one))
    finally:
        server.stop()
    return rows


def iscsi(cfg, lun_bytes, seconds, tcp_rate, depth=DEPTH):
    """The three iSCSI runs; ``tcp_rate``: {direction: MB/s} sizes the qemu-img runs to ~``seconds``."""
    tgtd = _wire.NsTgtd(CONTROL, PORTAL, cfg["iothreads"]).start()
    try:
        tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
        for key, value in sorted(cfg["params"].items()):
            tgtd.tgtadm("--lld", "iscsi", "--op", "update", "--mode", "target", "--tid", "1",
                        "--name", key, "--value", str(value))
        tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1",
                    "-b", LUN_PATH)
        tgtd.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", _wire.ADDR_C)
        threads = len(os.listdir("/proc/%d/task" % tgtd.proc.pid))
        opts = "driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1" % (PORTAL, IQN)
        count = {d: max(lun_bytes // BLOCK, int(seconds * tcp_rate.get(d, 0) * 1e6 / BLOCK)) for d in ("write", "read")}

        def qemu_img(direction, n, extra):
            out, _wall, cpu = timed(["qemu-img", "bench", "--image-opts", "-d", str(depth), "-c", str(n),
                                     "-s", str(BLOCK)] + extra + [opts], 120)
            took = float(re.search(r"Run completed in ([0-9.]+) seconds", out).group(1))
            return {"path": "iSCSI", "tool": "qemu-img bench", "direction": direction, "seconds": took,
                    "mb_per_s": round(n * BLOCK / took / 1e6, 1), "client_cpu_s": cpu}

        def perf():
            out, wall, cpu = timed(["iscsi-perf", "-m", str(depth), "-b", str(BLOCK // 512), "-t", str(seconds),
                                    "iscsi://%s/%s/1" % (PORTAL, IQN)], seconds + 60)
            iops = int(re.findall(r"iops average (\d+)", out)[-1])
            return {"path": "iSCSI", "tool": "iscsi-perf", "direction": "read", "seconds": wall,
                    "mb_per_s": round(iops * BLOCK / 1e6, 1), "client_cpu_s": cpu}
        rows = [with_cpu(tgtd, lambda: qemu_img("write", count["write"], ["-w"])),
                with_cpu(tgtd, lambda: qemu_img("read", count["read"], [])), with_cpu(tgtd, perf)]
        return [dict(r, tgtd_threads=threads) for r in rows]
    finally:
        tgtd.stop()


def aoe(cfg, single):
    argv = ["vblade"] + (["-b", str(cfg["aoe_buffers"])] if cfg["aoe_buffers"] else [])
    vblade = _wire.Daemon(argv + ["42", "0", _wire.DEV_T, LUN_PATH]).start()
    try:
        time.sleep(0.3)
        code = AOE_CLIENT % {"tree": os.path.join(_common.ROOT, ".cache", "pytest-collections"),
                             "dev": _wire.DEV_C, "window": cfg["aoe_window"], "single": single}
        holder = {}

        def windowed():
            out, _wall, cpu = timed([sys.executable, "-c", code], 300)
            size, took, one, bufcnt, window = out.split()
            holder.update(one=float(one), bufcnt=int(bufcnt), window=int(window))
            return {"path": "AoE", "tool": "read_windowed (%s in flight)" % window, "direction": "read",
                    "seconds": float(took), "mb_per_s": round(int(size) / float(took) / 1e6, 1),
                    "client_cpu_s": cpu, "vblade_buffer_count": int(bufcnt)}
        rows = [with_cpu(vblade, windowed)]
        if single:
            rows.append({"path": "AoE", "tool": "AoEClient.read (1 in flight)", "direction": "read",
                         "seconds": holder["one"], "mb_per_s": round(32768 * 512 / holder["one"] / 1e6, 1)})
        return rows
    finally:
        vblade.stop()


def fill_lun(mib):
    block = os.urandom(_common.MIB)
    with open(LUN_PATH, "wb") as f:
        for _mib in range(mib):
            f.write(block)


def ratios(rows):
    """x TCP (same MTU, link, direction) and AoE / iscsi-perf read (same set)."""
    tcp_of = {(r["mtu"], r["link"], r["direction"]): r["mb_per_s"] for r in rows if r["path"] == "TCP"}
    perf_of = {(r["mtu"], r["link"], r["config"]): r["mb_per_s"] for r in rows if r["tool"] == "iscsi-perf"}
    for r in rows:
        base = tcp_of.get((r["mtu"], r["link"], r["direction"]))
        if r["path"] != "TCP" and base:
            r["x_tcp"] = round(r["mb_per_s"] / base, 2)
        perf = perf_of.get((r["mtu"], r["link"], r["config"]))
        if r["path"] == "AoE" and perf:
            r["aoe_x_iscsi"] = round(r["mb_per_s"] / perf, 2)
    return rows


def configs(args):
    custom = {"params": dict(args.iscsi_param), "iothreads": args.iothreads,
              "aoe_buffers": args.aoe_buffers, "aoe_window": args.aoe_window or STOCK["aoe_window"]}
    if args.iscsi_param or args.iothreads or args.aoe_buffers or args.aoe_window:
        return ([("stock", STOCK)] if args.with_stock else []) + [("custom", custom)]
    return [("stock", STOCK), ("tuned", TUNED)]


def param(text):
    key, sep, value = text.partition("=")
    if not sep or key not in PARAM_KEYS:
        raise argparse.ArgumentTypeError("expected KEY=VALUE with KEY one of %s" % ", ".join(PARAM_KEYS))
    return key, value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench datapath_wire", description=__doc__.splitlines()[0])
    parser.add_argument("--mtu", type=int, action="append", help="MTU (repeatable; default 1500 and 9000)")
    parser.add_argument("--rate", default="1gbit", help="tbf rate of the shaped link ('' = unshaped only)")
    parser.add_argument("--no-unshaped", action="store_true", help="only the shaped link")
    parser.add_argument("--seconds", type=int, default=3, help="iperf3 and iscsi-perf run time")
    parser.add_argument("--mib", type=int, default=256, help="LUN size in MiB (on /dev/shm)")
    parser.add_argument("--quick", action="store_true", help="2 s runs, 128 MiB LUN")
    parser.add_argument("--iscsi-param", type=param, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--iothreads", type=int, help="tgtd --nr_iothreads")
    parser.add_argument("--aoe-buffers", type=int, help="vblade -b (advertised buffer count)")
    parser.add_argument("--aoe-window", type=int, help="AoE requests in flight (default 16)")
    parser.add_argument("--depth", type=int, default=DEPTH, help="iSCSI requests in flight (default 16)")
    parser.add_argument("--with-stock", action="store_true", help="also the stock set with knob options")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.mib = 2, 128
    mtus = args.mtu or [1500, 9000]
    links = ([] if args.no_unshaped else [None]) + ([args.rate] if args.rate else [])
    sets = configs(args)
    run = _common.Run("datapath_wire", {"mtus": mtus, "rates": links, "seconds": args.seconds, "lun_mib": args.mib,
                                        "depth": args.depth, "block_bytes": BLOCK, "sets": dict(sets)})
    if not os.path.exists(os.path.join(_common.ROOT, ".cache", "pytest-collections")):
        sys.path.insert(0, os.path.join(_common.ROOT, "tests"))
        import conftest  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel,import-error
    rows = []
    try:
        fill_lun(args.mib)
        for mtu in mtus:
            for rate in links:
                with _wire.link(mtu, rate):
                    where = {"mtu": mtu, "link": rate or "veth"}
                    got = tcp(args.seconds)
                    rows += [dict(where, config="-", **r) for r in got]
                    rate_of = {r["direction"]: r["mb_per_s"] for r in got}
                    for name, cfg in sets:
                        got = iscsi(cfg, args.mib * _common.MIB, args.seconds, rate_of, args.depth) + aoe(cfg, name == "stock")
                        rows += [dict(where, config=name, **r) for r in got]
                print("done: MTU %d %s (%d rows)" % (mtu, rate or "veth", len(rows)), flush=True)
    finally:
        if os.path.exists(LUN_PATH):
            os.unlink(LUN_PATH)
    tools = _common.deb_versions("tgt", "vblade", "iperf3", "libiscsi-bin", "qemu-utils", "qemu-block-extra")
    run.report(COLUMNS, ratios(rows), tools, notes=[
        "veth between two network namespaces on a shared 2-core machine; LUN on /dev/shm (storage is no limit)",
        "x TCP: MB/s over iperf3 (1 stream) in the same direction, MTU and link; AoE/iSCSI: over iscsi-perf read",
        "CPU %: target daemon (tgtd, vblade, iperf3 -s) and client tool, 100 = one core"])
    return 0


if __name__ == "__main__":
    main()
