# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_target_info (private): what one tgtd serves, as plain data and without secrets.

Reads with ``_tgt_show`` (``tgtadm --op show --mode target|account|portal``, nothing else runs)
and reports every target with its LUNs, ACL, bound CHAP user names (tgtadm never shows a secret)
and sessions, plus the daemon's global account names and portals.
"""

from __future__ import annotations

from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import SpecError, control_characters
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import read


def session(nexus):
    """One session: its I_T nexus id, the initiator's name and alias, its connections and their
    addresses (in order, without repeats)."""
    conns = [dict(cid=c["cid"], address=c["address"]) for c in nexus["connections"]]
    addresses = []
    for c in conns:
        if c["address"] and c["address"] not in addresses:
            addresses.append(c["address"])
    return dict(nexus=nexus["nexus"], initiator=nexus["initiator"], alias=nexus["alias"],
                addresses=addresses, connections=conns)


def target(t):
    """The return form of one parsed target (:class:`_tgt_show.TgtTarget`)."""
    return dict(tid=t.tid, name=t.name,
                luns=[dict(lun=x.lun, path=x.path, size_bytes=x.size_bytes, readonly=x.readonly,
                           type=x.type, serial=x.serial) for x in t.luns],
                initiators=list(t.initiators), initiator_addresses=list(t.addresses),
                allow_all=t.allow_all, chap_users=list(t.incoming),
                mutual_chap_users=list(t.outgoing),
                sessions=[session(n) for n in t.nexuses])


def report(state, name=None):
    """The module result from a :class:`_tgt_show.TgtState` (only target ``name`` when given;
    iSCSI names compare without case, RFC 3722)."""
    targets = sorted(state.targets.values(), key=lambda t: t.tid)
    if name is not None:
        targets = [t for t in targets if t.name.lower() == name.lower()]
    return dict(changed=False, targets=[target(t) for t in targets],
                accounts=list(state.accounts), portals=list(state.portals))


def check(params):
    """Refuse bad options before anything runs (SpecError names the option)."""
    control_characters(params, ("name",))
    cp = params.get("control_port")
    if isinstance(cp, bool) or not isinstance(cp, int) or not 0 <= cp <= 65535:
        raise SpecError("control_port: %r is not a tgtd control port (0-65535)" % (cp,))


def run(module):
    """Check the options, read the tgtd on ``control_port`` (the module fails with cmd, rc,
    stdout, stderr when it does not answer) and return the result dict."""
    try:
        check(module.params)
    except SpecError as e:
        module.fail_json(msg=str(e))
    state = read(Runner(module), module.params["control_port"])
    return report(state, module.params.get("name"))
