# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""open-iscsi's ``iscsiadm`` (private): argv builders, parsers of its output (open-iscsi 2.1.8,
fixtures in tests/unit/plugins/module_utils/fixtures/open-iscsi) and the reads of
``iscsi_initiator``.

Every node command names the exact record: ``-T target -p ADDR:PORT -I iface``.  Secrets: the
records are read with ``-S`` (to compare, never returned) and written with ``-o update -n KEY -v
VALUE``: iscsiadm reads no value from stdin or a file, so a CHAP secret is on that command line
for the run of the command (the module masks it with no_log; see docs/initiator.md).
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError
from ansible_collections.sanboot.lab.plugins.module_utils.initiator._node_plan import portal_of

# iscsiadm exit codes (iscsiadm(8) EXIT STATUS; usr/iscsi_err.h)
RC_NOT_FOUND = 6            # ISCSI_ERR_NOT_FOUND: e.g. no discoverydb record
RC_NO_OBJS_FOUND = 21       # ISCSI_ERR_NO_OBJS_FOUND: no records / no sessions
RC_SESS_EXISTS = 15         # ISCSI_ERR_SESS_EXISTS: already logged in
_RECORD_LINE = re.compile(r"^([A-Za-z0-9_.\[\]]+) =(?: (.*))?$")
# "127.0.0.1:3269,1 iqn..." / "[fd00::1]:3260,1 iqn..." (discovery and -m node)
_TARGET_LINE = re.compile(r"^(\[[^\]]+\]|[^\s\[\]]+?):([0-9]+),(-?[0-9]+) (\S+)$")


def node_argv(target, portal, iface, *rest):
    return ["iscsiadm", "-m", "node", "-T", target, "-p", str(portal), "-I", iface] + list(rest)


def show_node_argv(target, portal, iface):
    return node_argv(target, portal, iface, "-S")


def update_argv(base, pairs):
    argv = list(base) + ["-o", "update"]
    for key, value in pairs:
        argv += ["-n", key, "-v", value]
    return argv


def discoverydb_argv(portal, iface, *rest):
    return ["iscsiadm", "-m", "discoverydb", "-t", "st", "-p", str(portal), "-I", iface] + list(rest)


def discover_argv(portal, iface, persistent=True):
    """SendTargets discovery: ``-o new`` adds the records that are missing and leaves existing
    ones (and their node.startup) alone; ``-o nonpersistent`` writes nothing."""
    return discoverydb_argv(portal, iface, "-o", "new" if persistent else "nonpersistent", "--discover")


SESSIONS_ARGV = ["iscsiadm", "-m", "session", "-P", "3"]


def parse_record(text):
    """``# BEGIN RECORD`` ... ``key = value`` lines -> dict; ``<empty>`` reads as ``""``."""
    out = {}
    for line in text.splitlines():
        m = _RECORD_LINE.match(line.strip())
        if m:
            out[m.group(1)] = "" if m.group(2) in (None, "<empty>") else m.group(2)
    return out


def parse_targets(text):
    """Discovery output or ``iscsiadm -m node``: list of ``(Portal, tpgt, target)``."""
    out = []
    for line in text.splitlines():
        m = _TARGET_LINE.match(line.strip())
        if m:
            out.append((portal_of(m.group(1), m.group(2)), int(m.group(3)), m.group(4)))
    return out


def _portal_field(value):
    """``198.51.100.1:3269,1`` / ``[fd00::1]:3260,1`` -> Portal."""
    addr_port = value.rsplit(",", 1)[0]
    addr, _sep, port = addr_port.rpartition(":")
    return portal_of(addr, port)


def parse_sessions(text):
    """``iscsiadm -m session -P 3`` -> list of dicts: target, portal (persistent portal, a
    Portal), current_portal, interface, sid, host, luns ``{lun: disk name or ""}``."""
    sessions, target, current, lun = [], None, None, None
    sess = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Target: "):
            target = line[len("Target: "):].split(" ")[0]
        elif line.startswith("Current Portal: "):
            current = _portal_field(line.split(": ", 1)[1])
        elif line.startswith("Persistent Portal: "):
            sess = dict(target=target, portal=_portal_field(line.split(": ", 1)[1]),
                        current_portal=current, interface="", sid=None, host=None, luns={})
            sessions.append(sess)
            lun = None
        elif sess is None:
            continue
        elif line.startswith("Iface Name: "):
            sess["interface"] = line.split(": ", 1)[1]
        elif line.startswith("SID: "):
            sess["sid"] = int(line.split(": ", 1)[1])
        elif line.startswith("Host Number: "):
            sess["host"] = int(line.split()[2])
        else:
            m = re.match(r"^scsi(\d+) Channel (\d+) Id (\d+) Lun: (\d+)$", line)
            if m:
                lun = int(m.group(4))
                sess["luns"][lun] = ""
                continue
            m = re.match(r"^Attached scsi disk (\S+)", line)
            if m and lun is not None:
                sess["luns"][lun] = m.group(1)
    return sessions


def read_record(run, argv):
    """A record (dict) read with ``argv``, or None when iscsiadm has none (rc 6 or 21)."""
    rc, out, err = run(argv, check=False)
    if rc in (RC_NOT_FOUND, RC_NO_OBJS_FOUND):
        return None
    if rc != 0:
        raise IscsiadmError("cannot read the record", argv, rc, out, err)
    return parse_record(out)


def read_sessions(run):
    """Sessions of ``iscsiadm -m session -P 3`` (none: rc 21 'No active sessions.')."""
    rc, out, err = run(SESSIONS_ARGV, check=False)
    if rc == RC_NO_OBJS_FOUND:
        return []
    if rc != 0:
        raise IscsiadmError("cannot list the sessions", SESSIONS_ARGV, rc, out, err)
    return parse_sessions(out)


def read_state(run, req):
    """``(records, sessions)`` of the request's tuples: ``{Portal: record or None}`` (read with
    -S), ``{Portal: session dict}``."""
    records = dict((p, read_record(run, show_node_argv(req.target, p, req.interface))) for p in req.portals)
    sessions = {}
    for s in read_sessions(run):
        if s["target"] == req.target and s["interface"] == req.interface and s["portal"] in req.portals:
            sessions[s["portal"]] = s
    return records, sessions


class IscsiadmError(SanbootError):
    """An iscsiadm command that failed: ``msg``, ``argv``, ``rc``, ``out``, ``err``."""

    def __init__(self, msg, argv, rc, out, err):
        super(IscsiadmError, self).__init__(msg)
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
