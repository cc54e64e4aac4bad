# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cold move with the xl toolstack (private): ``mode: cold`` of the xl driver.

Runs on the SOURCE dom0 like the live move, for hypervisors that cannot live-migrate the guest
(a PV guest on a Xen built without shadow paging, ``_xl.live_paging_errors``):

1. ``mkdir -p SAVE_DIR`` on both hosts; ``xl save DOMAIN SAVE_DIR/DOMAIN.save`` on the source
   (xl stops the domain once its memory is written; xl resumes it itself when the save fails);
2. the file is copied to the same path on the destination through ``ssh_command`` (``cat`` into
   ``FILE.part``, then ``mv``: a half-copied file never has the final name);
3. ``xl restore FILE`` on the destination, then the file is removed on both hosts.

A failed or timed-out copy or restore restores the guest on the SOURCE from its local file
(after destroying what a half-finished restore left on the destination: the disks are shared,
two running copies would corrupt them) and raises :class:`MigrationError`.  Every step runs
under coreutils ``timeout`` (``timeout`` seconds each).  The guest is stopped from the save to
the end of the restore: ``downtime_ms`` is the wall clock of the whole move, an upper bound.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import time

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import (
    MigrationError, command_failure, with_timeout,
)

# runs on the destination: the path is "$1", so that it is one argument of the remote command
_RECEIVE = 'cat > "$1.part" && mv -f "$1.part" "$1"'


def save_path(save_dir, domain):
    return posixpath.join(save_dir, domain + ".save")


def cold_option_errors(params):
    """``save_dir`` must be absolute; a cold move also needs a domain name that names a file."""
    errors, save_dir = [], params.get("save_dir")
    if save_dir is not None and (not save_dir.startswith("/") or re.search(r"[\x00-\x1f\x7f]",
                                                                           save_dir)):
        errors.append("save_dir: %r is not an absolute path" % save_dir)
    domain = params.get("domain") or ""
    if params.get("mode") == "cold" and ("/" in domain or domain in (".", "..")):
        errors.append("domain: %r cannot name a save file (mode=cold)" % domain)
    return errors


def copy_argv(ssh, host, path):
    """Local argv that sends ``path`` to the same path on ``host`` over the ssh argv ``ssh``."""
    remote = " ".join(shlex.quote(a) for a in ["sh", "-c", _RECEIVE, "sh", path])
    line = " ".join(shlex.quote(a) for a in list(ssh) + ["--", host, remote])
    return ["sh", "-c", "%s < %s" % (line, shlex.quote(path))]


def _timed(times, key, call):
    started = time.time()
    try:
        return call()
    finally:
        times[key] = int(round((time.time() - started) * 1000))


def _back_to_source(drv, path, failure):
    """Restore the guest on the source from its local save file, then raise ``failure``."""
    p, tool, timeout = drv.p, drv.tool, drv.p.get("timeout")
    if drv.running(drv.dst):
        drv.dst.run([tool, "destroy", p["domain"]])
        if drv.running(drv.dst):
            raise MigrationError("%s; %s still exists on the destination %s after '%s destroy': "
                                 "not restored on the source (its disks are shared); it is saved "
                                 "in %s on the source" % (failure, p["domain"],
                                                          p["destination"], tool, path))
    drv.dst.run(["rm", "-f", path, path + ".part"])
    rc, out, err = drv.src.run(with_timeout([tool, "restore", path], timeout))
    if rc != 0:
        raise MigrationError("%s; restoring it on the source failed too (%s); it is saved in %s "
                             "on the source" % (failure, command_failure(
                                 "%s restore" % tool, rc, out, err, timeout), path))
    drv.src.run(["rm", "-f", path])
    raise MigrationError("%s; the guest was restored on the source %s" % (failure, p["source"]))


def cold_move(drv):
    """Save / copy / restore (``drv``: an ``_xl.XlDriver``); stats or MigrationError."""
    p, tool, timeout = drv.p, drv.tool, drv.p.get("timeout")
    path, times, started = save_path(p["save_dir"], p["domain"]), {}, time.time()
    for host in (drv.src, drv.dst):
        rc, out, err = host.run(["mkdir", "-p", p["save_dir"]])
        if rc != 0:
            raise MigrationError(command_failure("mkdir -p %s on %s" % (p["save_dir"], host.name),
                                                 rc, out, err))
    rc, out, err = _timed(times, "save_ms", lambda: drv.src.run(
        with_timeout([tool, "save", p["domain"], path], timeout)))
    if rc != 0:
        failure = command_failure("%s save" % tool, rc, out, err, timeout)
        if not drv.running(drv.src):   # killed after the suspend: the file may be all there is
            raise MigrationError("%s; %s no longer runs on the source; %s kept" % (
                failure, p["domain"], path))
        drv.src.run(["rm", "-f", path])
        raise MigrationError(failure)
    rc, out, err = _timed(times, "copy_ms", lambda: drv.runner(
        with_timeout(copy_argv(drv.dst.ssh, drv.dst.name, path), timeout), check=False))
    if rc != 0:
        _back_to_source(drv, path, command_failure(
            "copying %s to %s" % (path, p["destination"]), rc, out, err, timeout))
    rc, out, err = _timed(times, "restore_ms", lambda: drv.dst.run(
        with_timeout([tool, "restore", path], timeout)))
    if rc != 0:
        _back_to_source(drv, path, command_failure(
            "%s restore on %s" % (tool, p["destination"]), rc, out, err, timeout))
    leftovers = [h.name for h in (drv.dst, drv.src) if h.run(["rm", "-f", path])[0] != 0]
    total = int(round((time.time() - started) * 1000))
    stats = dict(times, mode="cold", save_file=path, total_time_ms=total,
                 total_time_from="wall clock", downtime_ms=total)
    if leftovers:
        stats["save_file_left_on"] = leftovers
    return stats
