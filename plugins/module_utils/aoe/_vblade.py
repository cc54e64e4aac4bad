# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vblade (userspace AoE target, vblade 25) exports: read, check, plan (private; the supervisors,
pidfiles and applying a plan are in ``_vblade_supervise``).

vblade 25 usage: ``vblade [-b bufcnt] [-o offset] [-l length] [-d] [-s] [-r] [-m mac[,mac...]]
shelf slot netif filename``.  It has no option for the AoE config string.  AoE has no sessions
or logins: nothing tells a target whether an initiator is using an export, so stopping an
export can never be checked against "in use" (AoE spec r11: connectionless protocol).

Two supervisors:

* ``systemd``: the template unit ``/etc/systemd/system/sanboot-vblade@.service`` reads
  ``/etc/sanboot/vblade/e<shelf>.<slot>.env``; instance ``sanboot-vblade@e<shelf>.<slot>``.
* ``process`` (hosts without systemd): ``setsid -f`` detaches vblade, its output goes to
  ``/run/sanboot-vblade/e<shelf>.<slot>.log`` and its pid to ``.../e<shelf>.<slot>.pid``.
"""

from __future__ import annotations

import os
import re
import stat

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError
from ansible_collections.sanboot.lab.plugins.module_utils.common._stores import (
    StoreError, store_id, tgt_exports, tgtd_alive, tgtd_control_ports, vblade_exports, vblade_getopt)

MAX_SHELF = 65534                 # 0xffff is the broadcast shelf (AoE spec r11 §2.3)
MAX_SLOT = 254                    # 0xff is the broadcast slot
MAX_BUFFERS = 65535               # the 16-bit Buffer Count of the Query Config answer (AoE r11)
UNIT_NAME = "sanboot-vblade@.service"
UNIT_DIR = "/etc/systemd/system"
ENV_DIR = "/etc/sanboot/vblade"
RUN_DIR = "/run/sanboot-vblade"
FIELDS = ("shelf", "slot", "interface", "path", "readonly", "direct", "sync", "allowed_macs",
          "bufcnt", "offset", "length")
_SAFE_TEXT = re.compile(r'^[^"\\$`\x00-\x1f\x7f]+\Z')
_IFNAME = re.compile(r"^[^\s/:\x00-\x1f\x7f-][^\s/:\x00-\x1f\x7f]{0,14}\Z")
_MAC = re.compile(r"^[0-9a-f]{12}$")
START_SCRIPT = 'p=$1; l=$2; shift 2; echo $$ >"$p"; exec "$@" </dev/null >>"$l" 2>&1'


def device_name(shelf, slot):
    return "e%d.%d" % (shelf, slot)


def unit_instance(shelf, slot):
    return "sanboot-vblade@%s.service" % device_name(shelf, slot)


def normalize_mac(mac):
    """Any of ``AA:BB:..``, ``aa-bb-..``, ``aabb..`` -> ``aa:bb:cc:dd:ee:ff``; ValueError else."""
    text = str(mac).strip().lower().replace(":", "").replace("-", "").replace(".", "")
    if not _MAC.match(text):
        raise ValueError(mac)
    return ":".join(text[i:i + 2] for i in range(0, 12, 2))


def mac_problem(mac):
    """Why a normalised MAC cannot be an initiator's address (None when it can)."""
    if mac == "00:00:00:00:00:00":
        return "the all-zero MAC address"
    if mac == "ff:ff:ff:ff:ff:ff":
        return "the broadcast MAC address"
    if int(mac[:2], 16) & 1:
        return "a multicast MAC address (the group bit of its first octet is set)"
    return None


# ---- reading argv and /proc ----------------------------------------------------------------
def parse_argv(argv):
    """vblade argv -> dict of FIELDS, or None when it is not a complete vblade command line.

    Options are parsed as glibc getopt does (``b:dsrm:o:l:``): grouped flags, attached or
    separate arguments, options after operands, ``--`` ends the options."""
    parsed = vblade_getopt(argv)
    if parsed is None:
        return None
    options, operands = parsed
    out = {"readonly": False, "direct": False, "sync": False, "allowed_macs": [],
           "bufcnt": None, "offset": None, "length": None}
    names = {"r": "readonly", "d": "direct", "s": "sync"}
    valued = {"b": "bufcnt", "o": "offset", "l": "length"}
    try:
        for c, value in options:
            if c in names:
                out[names[c]] = True
            elif c == "m":
                out["allowed_macs"] = sorted(set(normalize_mac(m) for m in value.split(",") if m))
            else:
                out[valued[c]] = int(value)
    except ValueError:
        return None
    if len(operands) != 4:
        return None
    try:
        out.update(shelf=int(operands[0]), slot=int(operands[1]))
    except ValueError:
        return None
    out.update(interface=operands[2], path=operands[3])
    return out


def build_argv(desired, vblade="vblade"):
    """The vblade command line for a desired export (options in a fixed order)."""
    argv = [vblade]
    for flag, key in (("-r", "readonly"), ("-d", "direct"), ("-s", "sync")):
        if desired.get(key):
            argv.append(flag)
    if desired.get("allowed_macs"):
        argv += ["-m", ",".join(desired["allowed_macs"])]
    if desired.get("bufcnt") is not None:
        argv += ["-b", str(desired["bufcnt"])]
    return argv + [str(desired["shelf"]), str(desired["slot"]), desired["interface"], desired["path"]]


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return None


def file_id(path):
    """The store identity of ``path`` (``_stores.store_id``) or None."""
    return store_id(path)


def running_exports(proc="/proc", all_netns=False):
    """vblade processes -> list of dict(shelf, slot, interface, path, readonly, pid, + direct, sync,
    allowed_macs, bufcnt, offset, length, argv, same_netns, file_id).

    By default only processes in the caller's network namespace (their interface names are the
    caller's); ``all_netns=True`` returns every vblade of the host (for the backing-store check).
    Read by ``_stores.vblade_exports``: a relative file name is resolved against the process's
    cwd; ``file_id`` is the store identity of the file as the process sees it (through
    ``/proc/PID/root``); StoreError when a process's cwd or store cannot be looked at."""
    own_netns = _readlink(os.path.join(proc, "self", "ns", "net"))
    found = []
    for e in vblade_exports(proc):
        parsed = parse_argv(e["argv"])
        if parsed is None:
            continue
        same = e["netns"] == own_netns
        if not same and not all_netns:
            continue
        parsed.update(pid=e["pid"], argv=e["argv"], same_netns=same, path=e["path"], file_id=e["id"])
        found.append(parsed)
    return found


def pid_alive(pid, proc="/proc"):
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(os.path.join(proc, str(pid), "stat")) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (IOError, OSError, IndexError):
        return False


def size_bytes(path):
    """Size of a regular file or block device in bytes (None if unreadable)."""
    try:
        with open(path, "rb") as handle:
            return handle.seek(0, os.SEEK_END)
    except (IOError, OSError):
        return None


def backing_problem(path):
    """Why ``path`` cannot back an export (None for a regular file or a block device)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return "cannot be read (%s)" % exc.strerror
    if stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return None
    kind = "a directory" if stat.S_ISDIR(st.st_mode) else (
        "a character device" if stat.S_ISCHR(st.st_mode) else "not a regular file or block device")
    return "is %s; vblade exports a regular file or a block device" % kind


# ---- validation and planning (pure) --------------------------------------------------------
def validate(params):
    """Module parameters -> desired export dict; PlanError names the option and the rule."""
    shelf, slot = params["shelf"], params["slot"]
    if not 0 <= shelf <= MAX_SHELF:
        raise PlanError("shelf=%d is out of range: AoE shelf addresses are 0-%d (0xffff is the "
                        "broadcast shelf, AoE spec r11 section 2.3)" % (shelf, MAX_SHELF), option="shelf")
    if not 0 <= slot <= MAX_SLOT:
        raise PlanError("slot=%d is out of range: AoE slot addresses are 0-%d (0xff is the "
                        "broadcast slot, AoE spec r11 section 2.3)" % (slot, MAX_SLOT), option="slot")
    if not _IFNAME.match(params["interface"] or ""):
        raise PlanError("interface=%r is not a network interface name (1-15 characters, no "
                        "whitespace, control characters, '/' or ':', not starting with '-')" % (params["interface"],),
                        option="interface")
    path = params.get("path")
    if params["state"] == "present" or path:
        if not path or not path.startswith("/") or not _SAFE_TEXT.match(path):
            raise PlanError("path=%r must be an absolute path without quotes, backslashes, '$', "
                            "'`' or control characters" % (path,), option="path")
    macs = []
    for mac in params.get("allowed_macs") or []:
        try:
            macs.append(normalize_mac(mac))
        except ValueError:
            raise PlanError("allowed_macs: %r is not a MAC address (6 bytes in hex, e.g. "
                            "52:54:00:12:34:56)" % (mac,), option="allowed_macs")
        problem = mac_problem(macs[-1])
        if problem:
            raise PlanError("allowed_macs: %r is %s; list the unicast MAC of each initiator"
                            % (mac, problem), option="allowed_macs")
    buffers = params.get("buffers")
    if buffers is not None and (isinstance(buffers, bool) or not isinstance(buffers, int)
                                or not 1 <= buffers <= MAX_BUFFERS):
        raise PlanError("buffers=%r is out of range: vblade's -b buffer count is 1-%d (the "
                        "16-bit Buffer Count of the AoE Query Config answer, AoE spec r11), "
                        "or null for vblade's default (16)" % (buffers, MAX_BUFFERS), option="buffers")
    return {"shelf": shelf, "slot": slot, "interface": params["interface"], "path": path,
            "readonly": bool(params.get("readonly")), "direct": bool(params.get("direct")),
            "sync": bool(params.get("sync")), "allowed_macs": sorted(set(macs)),
            "bufcnt": buffers, "offset": None, "length": None}


def same_export(a, b):
    return all(a.get(k) == b.get(k) for k in FIELDS)


def _same_file(a_path, a_id, b_path, b_id):  # pylint: disable=unused-argument
    """One rule (``_stores.store_id``): the same store when the identities match; a path that
    does not exist has no identity."""
    return a_id is not None and a_id == b_id


def describe(export):
    """One line for a running or desired export."""
    flags = [name for name in ("readonly", "direct", "sync") if export.get(name)]
    if export.get("allowed_macs"):
        flags.append("allowed_macs=" + ",".join(export["allowed_macs"]))
    if export.get("bufcnt") is not None:
        flags.append("buffers=%d" % export["bufcnt"])
    text = "%s on %s: %s" % (device_name(export["shelf"], export["slot"]), export["interface"],
                             export["path"])
    return text + (" (%s)" % ", ".join(flags) if flags else "")


def check_conflicts(desired, exports, tgt_stores, force):
    """Refusals of a present export; returns the exports of this device (same netns, same
    shelf.slot and interface).  ``exports`` from ``running_exports(all_netns=True)``; desired has
    ``file_id``; ``tgt_stores`` maps a path to [dict(target, lun, readonly, file_id?)]."""
    dev = device_name(desired["shelf"], desired["slot"])
    mine = [e for e in exports if e["same_netns"] and (e["shelf"], e["slot"], e["interface"])
            == (desired["shelf"], desired["slot"], desired["interface"])]
    if not force:
        for e in mine:
            if not _same_file(e["path"], e.get("file_id"), desired["path"], desired.get("file_id")):
                raise PlanError("shelf/slot %s on %s is already exported from another backing file "
                                "%s by vblade pid %d; use another shelf/slot, or force=true to replace "
                                "it" % (dev, desired["interface"], e["path"], e["pid"]), option="shelf")
    if desired["readonly"] or force:
        return mine
    for e in exports:
        if e in mine or e["readonly"]:
            continue
        if _same_file(e["path"], e.get("file_id"), desired["path"], desired.get("file_id")):
            raise PlanError("path %s is already exported read-write by vblade pid %d (%s); a backing "
                            "store exported read-write twice gets corrupted: set readonly=true, or "
                            "force=true if the initiators coordinate their writes"
                            % (desired["path"], e["pid"], describe(e)), option="path")
    for path, uses in sorted((tgt_stores or {}).items()):
        for use in uses:
            if use.get("readonly"):
                continue
            if _same_file(path, use.get("file_id"), desired["path"], desired.get("file_id")):
                raise PlanError("path %s is already exported read-write by tgt target %s LUN %s; a "
                                "backing store exported read-write twice gets corrupted: set "
                                "readonly=true, or force=true" % (desired["path"], use.get("target"),
                                                                  use.get("lun")), option="path")
    return mine


class Action(object):
    """One step of a plan: ``kind`` (stop, start, write_unit, daemon_reload, write_env,
    remove_env, enable, restart, disable, remove_file), its arguments, a readable text."""

    def __init__(self, kind, text, **args):
        self.kind, self.text, self.args = kind, text, args

    def __repr__(self):
        return "Action(%s, %r)" % (self.kind, self.args)


def stop_action(e, managed):
    how = "" if e["pid"] in managed else " (not started by this module)"
    return Action("stop", "stop vblade pid %d%s: %s" % (e["pid"], how, describe(e)), pid=e["pid"])


def plan_process(desired, state, mine, managed_pids, force):
    """Plan for the ``process`` supervisor.  ``mine``: running exports of this device."""
    if state == "absent":
        foreign = [e for e in mine if e["pid"] not in managed_pids]
        if foreign and not force:
            raise PlanError("vblade pid %d (%s) was not started by this module; state=absent stops it "
                            "only with force=true (AoE has no sessions: nobody can tell whether an "
                            "initiator still uses it)" % (foreign[0]["pid"], describe(foreign[0])), option="state")
        return [stop_action(e, managed_pids) for e in mine]
    if len(mine) == 1 and same_export(mine[0], desired):
        return []
    actions = [stop_action(e, managed_pids) for e in mine]
    return actions + [Action("start", "start vblade: " + describe(desired), export=desired)]


def state_dict(export, supervisor):
    """before/after dict for the diff."""
    if not export:
        return {"state": "absent"}
    out = {k: export[k] for k in ("interface", "path", "readonly", "direct", "sync", "allowed_macs")}
    if export.get("bufcnt") is not None:
        out["buffers"] = export["bufcnt"]
    out.update(state="present", device=device_name(export["shelf"], export["slot"]), supervisor=supervisor)
    return out


def tgt_backing_stores(runner):
    """The backing stores of every tgtd of the host (``_stores``) as ``{path: [dict(target, lun,
    readonly, file_id)]}``; PlanError when a tgtd cannot be asked."""
    try:
        ports = tgtd_control_ports()
        tgtadm = runner.which("tgtadm", required=bool(ports))
        uses = tgt_exports(lambda argv: runner(argv, check=False), tgtadm, ports, tgtd_alive)
    except StoreError as e:
        raise PlanError("path: cannot tell whether tgt exports the store: %s" % e, option="path")
    out = {}
    for use in uses:
        out.setdefault(use["path"], []).append(dict(target=use["target"], lun=use["lun"],
                                                    readonly=use["readonly"], file_id=use["id"]))
    return out
