# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the benchmarks: paths, timing, the table on stdout, the JSON file.

Every benchmark builds a list of rows (dicts) and calls :func:`report`, which prints them as a
table and writes ``bench/results/<name>.json`` with the date, machine information, the load
average before and after the run (the machine is shared) and the versions of the tools used.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
MIB = 1024 * 1024


def tgtd_class():
    """The integration tests' throwaway tgtd (start on a control port, stop by PID)."""
    path = os.path.join(ROOT, "tests", "integration")
    if path not in sys.path:
        sys.path.insert(0, path)
    from _tgtd import Tgtd  # noqa: PLC0415  pylint: disable=import-outside-toplevel,import-error
    return Tgtd


@contextlib.contextmanager
def tgtd(control_port, portal):
    """A running tgtd (control port, one portal) for the ``with`` block; stopped by PID after it."""
    daemon = tgtd_class()(control_port, portal)
    try:
        yield daemon.start()
    finally:
        daemon.stop()


def sparse_file(path, size):
    """Create (or truncate) ``path`` as a sparse file of ``size`` bytes."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def run(argv, **kw):
    """Run ``argv`` (checked, text output captured); return ``(CompletedProcess, seconds)``."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    check = kw.pop("check", True)
    start = time.monotonic()
    proc = subprocess.run(argv, check=check, **kw)
    return proc, time.monotonic() - start


def run_group(argv, timeout, grace=0, **kw):
    """Run ``argv`` in a session (process group) of its own for at most ``timeout`` seconds.

    Returns ``(status, seconds, timed_out)``. When the time runs out, or this process is
    interrupted (Ctrl-C), that group only is stopped: SIGKILL at once (``grace`` 0), or SIGTERM
    and SIGKILL ``grace`` seconds later. ``kw`` goes to :class:`subprocess.Popen`.
    """
    start = time.monotonic()
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    try:
        return proc.wait(timeout=timeout), time.monotonic() - start, False
    except subprocess.TimeoutExpired:
        _stop_group(proc, grace)
        return proc.returncode, time.monotonic() - start, True
    except BaseException:
        _stop_group(proc, grace)
        raise


def _stop_group(proc, grace):
    try:
        if grace:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def deb_versions(*packages):
    """``{package: version}`` of installed Debian packages (``None`` when not installed)."""
    out = {}
    for pkg in packages:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                              text=True, check=False)
        out[pkg] = proc.stdout.strip() if proc.returncode == 0 else None
    return out


def py_versions(*distributions):
    """``{distribution: version}`` of Python distributions (``None`` when not installed)."""
    out = {}
    for dist in distributions:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def machine():
    """Facts about the machine the numbers come from."""
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        pass
    return {"hostname": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "cpu_model": model, "python": platform.python_version()}


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


class Run:
    """One benchmark run: note the start (time, load), then :meth:`report` the rows."""

    def __init__(self, name, params=None):
        self.name, self.params = name, dict(params or {})
        self.started = time.time()
        self.load_before = loadavg()

    def report(self, columns, rows, tools, notes=None, extra=None):
        """Print ``rows`` under ``columns`` ([(key, header, format)]) and write the JSON file
        (``extra``: more top-level keys, e.g. the raw measurements behind the rows)."""
        print_table(self.name, columns, rows)
        data = {"benchmark": self.name,
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "seconds": round(time.time() - self.started, 1),
                "machine": machine(), "load_average_before": self.load_before,
                "load_average_after": loadavg(), "tools": tools, "params": self.params,
                "notes": notes or [], "results": rows}
        data.update(extra or {})
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, "%s.json" % self.name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        print("load average %s -> %s; JSON: %s"
              % (self.load_before, data["load_average_after"], os.path.relpath(path, ROOT)))
        write_plot(data, path[:-len(".json")] + ".png")
        for note in notes or []:
            print("note: %s" % note)
        print()
        return data


def write_plot(data, png_path):
    """The PNG of ``data``'s series next to its JSON (bench/_plot.py); a failure is a note, never fatal."""
    try:
        from bench._plot import plot  # noqa: PLC0415  pylint: disable=import-outside-toplevel
        if plot(data, png_path):
            print("plot: %s" % os.path.relpath(png_path, ROOT))
    except Exception as exc:  # noqa: BLE001  pylint: disable=broad-exception-caught
        print("note: no plot (%s: %s)" % (type(exc).__name__, exc))


def print_table(title, columns, rows):
    """Print ``rows`` (dicts) as an aligned text table; ``format`` is applied to present values."""
    cells = [[header for _key, header, _fmt in columns]]
    for row in rows:
        cells.append([("-" if row.get(key) is None else fmt % row[key]) for key, _h, fmt in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lefts = [fmt == "%s" for _key, _header, fmt in columns]
    print("== %s" % title)
    for n, line in enumerate(cells):
        print("  ".join(c.ljust(w) if left else c.rjust(w) for c, w, left in zip(line, widths, lefts, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
