# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tgt provider of iscsi_target (private): read the state of one tgtd.

Parses ``tgtadm --op show --mode target|account|portal`` as tgt 1.0.85 prints it.  tgt prints
a session (an "I_T nexus") with the initiator's name and alias and the connection it logged in
with (its id and the initiator's address), as recorded at login.
"""

from __future__ import annotations

import os
import re
import stat

from ansible_collections.sanboot.lab.plugins.module_utils.target import _params
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import Lun
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_conf import NO_ADDRESS


class TgtTarget(object):
    """A target as tgtd reports it."""

    def __init__(self, tid, name):
        self.tid, self.name = tid, name
        self.luns, self.initiators, self.addresses = [], [], []
        self.allow_all = False
        self.incoming, self.outgoing, self.sessions = [], [], []
        self.nexuses = []   # sessions in full: nexus, initiator, alias, connections [{cid, address}]
        self.params = None  # data-path parameters (``_params``), read only when a request sets some

    def lun(self, number):
        for lun in self.luns:
            if lun.lun == number:
                return lun
        return None


class TgtState(object):
    """Everything read from one tgtd: targets by name, global accounts, daemon-wide portals."""

    def __init__(self, targets=None, accounts=None, portals=None, running=True):
        self.targets = dict((t.name, t) for t in (targets or []))
        self.accounts, self.portals = list(accounts or []), list(portals or [])
        self.running = running


def lun_size(path, fallback):
    try:
        st = os.stat(path)
        if stat.S_ISBLK(st.st_mode):
            with open(path, "rb") as f:
                return f.seek(0, 2)
        return st.st_size
    except (OSError, IOError):
        return fallback


_TARGET = re.compile(r"^Target (\d+): (\S+)\s*$")


def parse_targets(text, sizes=True):
    """Targets from ``tgtadm --op show --mode target`` (LUN 0, the controller, is left out)."""
    targets, t, section, lun = [], None, None, None
    for raw in text.splitlines():
        m = _TARGET.match(raw) if raw.startswith("Target ") else None
        if m:
            t = TgtTarget(int(m.group(1)), m.group(2))
            targets.append(t)
            section = lun = None
            continue
        line = raw.strip()
        if t is None or not line:
            continue
        if raw.startswith("    ") and not raw.startswith("     ") and line.endswith("information:"):
            section = line[:-len(" information:")]
            continue
        if section == "I_T nexus":
            _nexus_line(t, line)
        elif section == "LUN":
            key, dummy, val = line.partition(":")
            val = val.strip()
            if key == "LUN":
                lun = Lun(int(val), None)
                lun.size_bytes = 0
                if lun.lun != 0:
                    t.luns.append(lun)
            elif lun is None:
                continue
            elif key == "SCSI SN":
                lun.serial = val
            elif key == "Size":
                lun.size_bytes = int(val.split()[0]) * 1000 * 1000   # decimal MB, rounded
            elif key == "Readonly":
                lun.readonly = val == "Yes"
            elif key == "Backing store path":
                lun.path = val
            elif key == "Backing store flags":
                lun.type = "blockio" if "direct" in val.split() else "fileio"
        elif section == "Account":
            if line.endswith(" (outgoing)"):
                t.outgoing.append(line[:-len(" (outgoing)")])
            else:
                t.incoming.append(line)
        elif section == "ACL":
            if line == "ALL":
                t.allow_all = True
            elif line == NO_ADDRESS:
                continue
            elif line.startswith(("iqn.", "eui.", "naa.")):
                t.initiators.append(line)
            else:
                t.addresses.append(line)
    for t in targets:
        for lun in t.luns:
            if sizes:
                lun.size_bytes = lun_size(lun.path, lun.size_bytes)
    return targets


def _nexus_line(t, line):
    """One line of a target's "I_T nexus information" (``t.sessions`` keeps iscsi_target's short
    form: initiator and address)."""
    key, dummy, val = line.partition(":")
    val = val.strip()
    if key == "I_T nexus":
        t.sessions.append(dict(initiator=None, address=None))
        t.nexuses.append(dict(nexus=int(val) if val.isdigit() else val, initiator=None,
                              alias=None, connections=[]))
    elif not t.nexuses:
        return
    elif key == "Initiator":
        name, dummy, alias = val.partition(" alias:")
        alias = alias.strip()
        t.sessions[-1]["initiator"] = t.nexuses[-1]["initiator"] = name.strip()
        t.nexuses[-1]["alias"] = alias if alias and alias != "none" else None
    elif key == "Connection":
        t.nexuses[-1]["connections"].append(dict(cid=int(val) if val.isdigit() else val, address=None))
    elif key.endswith("IP Address"):       # "IP Address" (iscsi over TCP), "RDMA IP Address" (iSER)
        if key == "IP Address":
            t.sessions[-1]["address"] = val
        conns = t.nexuses[-1]["connections"]
        if not conns or conns[-1]["address"] is not None:
            conns.append(dict(cid=None, address=None))
        conns[-1]["address"] = val


def parse_accounts(text):
    """Account names from ``tgtadm --op show --mode account``."""
    return [line.strip() for line in text.splitlines()[1:] if line.strip()]


def parse_portals(text):
    """``["ADDR:PORT", ...]`` from ``tgtadm --op show --mode portal`` (",TPGT" dropped)."""
    return [line.split(":", 1)[1].strip().rsplit(",", 1)[0]
            for line in text.splitlines() if line.startswith("Portal:")]


def tgtadm(runner, control_port=0):
    return [runner.which("tgtadm"), "-C", str(control_port), "--lld", "iscsi"]


def read(runner, control_port=0, required=True):
    """TgtState of the tgtd listening on ``control_port`` (``running=False`` when none answers).
    The reads are ``light`` Runner calls: a fork of a module holding thousands of LUNs costs."""
    base = tgtadm(runner, control_port)
    rc, out, err = runner(base + ["--op", "show", "--mode", "target"], check=False, light=True)
    if rc != 0:
        if required:
            runner.fail("control_port: tgtd does not answer on control port %d (is tgtd "
                        "running? start it before using provider tgt)" % control_port,
                        base + ["--op", "show", "--mode", "target"], rc, out, err)
        return TgtState(running=False)
    targets = parse_targets(out)
    accounts = parse_accounts(runner(base + ["--op", "show", "--mode", "account"], light=True)[1])
    portals = parse_portals(runner(base + ["--op", "show", "--mode", "portal"], light=True)[1])
    return TgtState(targets, accounts, portals)


def read_params(runner, state, names, control_port=0):
    """Fill ``params`` of the targets ``names`` of ``state`` (one ``tgtadm --op show --mode
    target --tid N`` each: the only output with them); returns ``state``."""
    base = tgtadm(runner, control_port)
    for name in names:
        t = state.targets.get(name)
        if t is not None:
            t.params = _params.read(runner, base, t.tid)
    return state
