# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging many targets: ``sanboot.lab.iscsi_target`` (aggregate ``targets:``) vs. tgt-admin.

``python -m bench iscsi_target_scale [--targets 64] [--luns 4]`` (run ``make collection`` first;
``make bench`` does). One tgtd on loopback after the other: control port 71 / 127.0.0.1:3292 for
the module, control port 72 / 127.0.0.1:3293 for tgt-admin. Backing stores are sparse 1 MiB files. Timed, each
as one wall-clock command:

* ``ansible localhost -m ansible.builtin.ping``: Ansible's own cost of one ad-hoc task;
* ``ansible localhost -m sanboot.lab.iscsi_target -a {targets: [...]}``: 64 targets x 4 LUNs in one
  invocation, then the same again (no-op: ``changed`` false, no write command);
* ``tgt-admin -e`` of the equivalent configuration (the files the module persisted, pointing at
  copies of the backing files), then a no-op ``tgt-admin --update ALL`` (which recreates every idle target);
* ``tgtadm --op show --mode target`` of the result, and one ``lsof FILE``: tgt-admin's check
  that a backing store is not in use, which it runs once per LUN it adds.

Each tgtd is stopped by PID after its part, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile

from bench import _common

MODULE_CONTROL, MODULE_PORTAL = 71, "127.0.0.1:3292"
ADMIN_CONTROL, ADMIN_PORTAL = 72, "127.0.0.1:3293"
TIMEOUT = 120

COLUMNS = [("step", "step", "%s"), ("tool", "tool", "%s"), ("seconds", "s", "%.2f"),
           ("changed", "changed", "%s"), ("write_commands", "writes", "%d"),
           ("targets", "targets", "%d"), ("luns", "LUNs", "%d")]


def ansible(module, args):
    """Run one ad-hoc task on localhost; return (result dict, seconds)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(_common.ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(_common.ROOT, ".cache", "collections"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               PATH=_common.VENV_BIN + os.pathsep + os.environ["PATH"])
    argv = [os.path.join(_common.VENV_BIN, "ansible"), "localhost", "-m", module]
    argv += ["-a", json.dumps(args)] if args else []
    proc, seconds = _common.run(argv, env=env, cwd=_common.ROOT, check=False, timeout=TIMEOUT)
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise RuntimeError("ansible %s: rc %d\n%s%s" % (module, proc.returncode, proc.stdout[-2000:],
                                                        proc.stderr[-2000:])) from None
    if result.get("failed"):
        raise RuntimeError("ansible %s failed: %s" % (module, result.get("msg")))
    return result, seconds


def counts(tgtd):
    """(targets, LUNs other than the LUN 0 controllers) the daemon shows, and the seconds it took."""
    proc, seconds = _common.run(["tgtadm", "-C", tgtd.control_port, "--lld", "iscsi", "--op", "show",
                                 "--mode", "target"])
    targets = len(re.findall(r"^Target \d+:", proc.stdout, re.M))
    luns = len(re.findall(r"^\s+LUN: [1-9]\d*$", proc.stdout, re.M))
    return targets, luns, seconds


def module_args(tmp, n_targets, n_luns):
    os.makedirs(tmp)
    targets = []
    for t in range(n_targets):
        luns = []
        for lun in range(1, n_luns + 1):
            path = _common.sparse_file(os.path.join(tmp, "t%03d-l%d.img" % (t, lun)), _common.MIB)
            luns.append({"lun": lun, "path": path})
        targets.append({"name": "iqn.2024-01.lab.sanboot.bench:scale%03d" % t, "luns": luns,
                        "initiator_addresses": ["127.0.0.1"]})
    return {"targets": targets, "control_port": MODULE_CONTROL,
            "config_dir": os.path.join(tmp, "conf.d")}


def admin_config(tmp, args):
    """tgt-admin's config: the files the module persisted, on a copy of the backing files.

    tgt-admin skips a backing store another tgtd holds open ("it is in use"), hence the copies.
    """
    src, dst = os.path.join(tmp, "module"), os.path.join(tmp, "admin")
    os.makedirs(dst)
    for target in args["targets"]:
        for lun in target["luns"]:
            _common.sparse_file(lun["path"].replace(src, dst, 1), _common.MIB)
    conf = os.path.join(tmp, "tgt-admin.conf")
    with open(conf, "w", encoding="utf-8") as out:
        for name in sorted(os.listdir(args["config_dir"])):
            with open(os.path.join(args["config_dir"], name), encoding="utf-8") as f:
                out.write(f.read().replace(src + "/", dst + "/"))
    return conf


def measure(tmp, n_targets, n_luns):
    rows = []

    def add(step, tool, seconds, daemon=None, result=None):
        t, lun, _s = counts(daemon) if daemon else (None, None, None)
        rows.append({"step": step, "tool": tool, "seconds": round(seconds, 2),
                     "changed": result["changed"] if result else None,
                     "write_commands": len(result["commands"]) if result else None,
                     "targets": t, "luns": lun})

    args = module_args(os.path.join(tmp, "module"), n_targets, n_luns)
    add("baseline (one ad-hoc task)", "ansible ping", ansible("ansible.builtin.ping", None)[1])
    with _common.tgtd(MODULE_CONTROL, MODULE_PORTAL) as daemon:
        for step in ("converge", "no-op second run"):
            result, seconds = ansible("sanboot.lab.iscsi_target", args)
            add(step, "iscsi_target targets:", seconds, daemon, result)
    conf = admin_config(tmp, args)
    with _common.tgtd(ADMIN_CONTROL, ADMIN_PORTAL) as daemon:
        admin = ["tgt-admin", "-C", daemon.control_port, "-c", conf]
        add("converge", "tgt-admin -e", _common.run([*admin, "-e"], timeout=TIMEOUT)[1], daemon)
        add("no-op second run", "tgt-admin --update ALL",
            _common.run([*admin, "--update", "ALL"], timeout=TIMEOUT)[1], daemon)
        add("read state", "tgtadm --op show", counts(daemon)[2], daemon)
        one = args["targets"][0]["luns"][0]["path"].replace("/module/", "/admin/")
        add("in-use check, 1 file", "lsof FILE", _common.run(["lsof", one], check=False)[1])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench iscsi_target_scale",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=64, help="number of targets")
    parser.add_argument("--luns", type=int, default=4, help="LUNs per target")
    args = parser.parse_args(argv)
    if not os.path.exists(os.path.join(_common.ROOT, ".cache", "collections", "ansible_collections",
                                       "sanboot", "lab", "MANIFEST.json")):
        raise RuntimeError("the collection is not installed: run `make collection` first")
    run = _common.Run("iscsi_target_scale", {"targets": args.targets, "luns_per_target": args.luns,
                                             "backing": "sparse 1 MiB files"})
    with tempfile.TemporaryDirectory(prefix="sanboot-bench-scale-") as tmp:
        rows = measure(tmp, args.targets, args.luns)
    tools = _common.deb_versions("tgt")
    tools.update(_common.py_versions("ansible-core"))
    run.report(COLUMNS, rows, tools, notes=[
        "seconds are wall clock of the whole command (Ansible start-up included)",
        "tgt-admin's config is the module's persisted files (backing paths moved to copies)",
        "tgt-admin runs `lsof FILE` per backing store (its in-use check) when adding a LUN"])
    return rows


if __name__ == "__main__":
    main()
