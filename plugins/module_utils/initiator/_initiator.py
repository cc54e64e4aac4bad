# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``iscsi_initiator`` read -> plan -> apply (private): node records, discovery, sessions.

Order, so that a refused request changes nothing:
1. read the records (``-S``) and sessions of the exact tuples; plan (``_node_plan.plan``);
2. refuse settings keys an existing record does not have;
3. for the records to create through discovery: the discoverydb auth first (rolled back when what
   follows fails), then a ``-o nonpersistent`` SendTargets discovery that must return the target
   at the portal; only then ``-o new --discover`` (which keeps existing records and their
   node.startup);
4. updates (a failure deletes the records this run created), logins and the wait for the disks,
   logouts, deletes.
"""

from __future__ import annotations

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _devices
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _iscsiadm as adm
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _node_plan as np


def masked_argv(argv):
    """``argv`` with the value after ``-n <secret key> -v`` replaced by ``********``."""
    out = list(argv)
    for i in range(len(out) - 3):
        if out[i] == "-n" and np.is_secret(out[i + 1]) and out[i + 2] == "-v" and out[i + 3]:
            out[i + 3] = np.MASK
    return out


class Converge(object):
    """One run: ``run`` is the collection's Runner (``run(argv, check=False)``)."""

    def __init__(self, run, req, check_mode, udevadm=None):
        self.run, self.req, self.check, self.udevadm = run, req, check_mode, udevadm
        self.commands, self.undo, self.warnings = [], [], list(req.warnings)
        self.changed, self.offered = False, {}

    # ------------------------------------------------------------ commands
    def do(self, argv, msg, ok_rcs=(0,)):
        """Run a changing command (recorded; skipped in check mode)."""
        self.commands.append(masked_argv(argv))
        self.changed = True
        if self.check:
            return ""
        rc, out, err = self.run(argv, check=False)
        if rc not in ok_rcs:
            raise adm.IscsiadmError(msg, masked_argv(argv), rc, out, err)
        return out

    def rollback(self):
        for argv in reversed(self.undo):
            self.run(argv, check=False)
        self.undo = []

    # ------------------------------------------------------------ discovery
    def discoverydb(self, portal):
        """Put the discovery CHAP into the discoverydb record of ``portal``; False when check mode
        leaves a change pending (the discovery cannot be tried with it then)."""
        req = self.req
        if not req.discovery:
            return True
        base = adm.discoverydb_argv(portal, req.interface)
        current = adm.read_record(self.run, base + ["-S"])
        pairs = np.changed_pairs(current, req.discovery)
        if current is None:
            self.do(base + ["-o", "new"], "cannot create the discoverydb record of %s" % portal)
            self.undo.append(base + ["-o", "delete"])
        elif pairs:
            self.undo.append(adm.update_argv(base, [(k, current.get(k, "")) for k, _v in pairs]))
        if pairs:
            self.do(adm.update_argv(base, pairs), "cannot set the discovery CHAP of %s" % portal)
        return not (self.check and pairs)

    def check_discovery(self, portal):
        """The nonpersistent SendTargets discovery must return the target at ``portal``."""
        req = self.req
        argv = adm.discover_argv(portal, req.interface, persistent=False)
        rc, out, err = self.run(argv, check=False)
        if rc != 0:
            raise adm.IscsiadmError("SendTargets discovery on %s failed (unreachable portal, or "
                                    "discovery_chap refused?)" % portal, argv, rc, out, err)
        found = self.offered[portal] = adm.parse_targets(out)
        at = [p for p, _tpgt, name in found if name == req.target]
        if not any(p.addr.split("%")[0] == portal.addr.split("%")[0] and p.port == portal.port for p in at):
            where = ("at %s only" % ", ".join(str(p) for p in at)) if at else "not at all"
            raise PlanError("target: discovery on %s returns %s %s (it returns: %s); nothing was "
                            "changed" % (portal, req.target, where,
                                         ", ".join(sorted(set(n for _p, _t, n in found))) or "no targets"),
                            option="target")

    def create(self, portal):
        req = self.req
        if req.discover:
            # discovery makes a record for every target and portal offered: the new ones are
            # deleted again when this run fails
            new = []
            for offered, _tpgt, name in self.offered.get(portal, []):
                if self.check or adm.read_record(self.run, adm.show_node_argv(name, offered, req.interface)) is None:
                    self.undo.append(adm.node_argv(name, offered, req.interface, "-o", "delete"))
                    new.append((name, offered))
            self.do(adm.discover_argv(portal, req.interface), "discovery on %s failed" % portal)
            if "%" in portal.addr:
                self.zoned(portal, new)
        else:
            self.do(adm.node_argv(req.target, portal, req.interface, "-o", "new"),
                    "cannot create the node record")
            self.undo.append(adm.node_argv(req.target, portal, req.interface, "-o", "delete"))
        if not self.check and adm.read_record(self.run, adm.show_node_argv(req.target, portal, req.interface)) is None:
            raise PlanError("portals: discovery on %s made no record for %s -I %s (the target "
                            "returns another portal address?)" % (portal, req.target, req.interface),
                            option="portals")

    def zoned(self, portal, new):
        """A link-local portal: SendTargets answers TargetAddress without the IPv6 zone (RFC 3720
        §12.8 has no place for one), so the records discovery just made for that address cannot
        connect (iscsid: connect() EINVAL, retried forever). Delete those; the target's record gets
        the portal as given, zone included."""
        req, bare = self.req, portal.addr.split("%")[0]
        for name, offered in new:
            if offered.addr == bare and offered.port == portal.port:
                self.do(adm.node_argv(name, offered, req.interface, "-o", "delete"),
                        "cannot delete the record without zone %s" % offered)
        if self.check or adm.read_record(self.run, adm.show_node_argv(req.target, portal, req.interface)) is None:
            self.do(adm.node_argv(req.target, portal, req.interface, "-o", "new"), "cannot create the node record")
            self.undo.append(adm.node_argv(req.target, portal, req.interface, "-o", "delete"))

    # ------------------------------------------------------------ the run
    def __call__(self):
        req = self.req
        records, sessions = adm.read_state(self.run, req)
        steps = np.plan(req, records, sessions)
        for portal, record in records.items():
            missing = sorted(k for k in req.settings if record is not None and k not in record)
            if missing and req.state in ("logged_in", "present"):
                raise PlanError("settings: the node record %s -I %s has no %s (the keys are those "
                                "of 'iscsiadm -m node -T T -p P -I I'); nothing was changed"
                                % (portal, req.interface, ", ".join(missing)), option="settings")
        creates = [p for a, p, _x in steps if a == "create"]
        try:
            if req.discover and creates:
                tried = [p for p in creates if self.discoverydb(p)]
                for portal in creates:
                    if portal in tried:
                        self.check_discovery(portal)
                    else:
                        self.warnings.append("check mode: discovery on %s not tried (its discovery "
                                             "CHAP would change first)" % portal)
            for portal in creates:
                self.create(portal)
            for action, portal, pairs in steps:
                if action == "update":
                    self.do(adm.update_argv(adm.node_argv(req.target, portal, req.interface), pairs),
                            "cannot update the node record %s" % portal)
        except Exception:
            if not self.check:
                self.rollback()
            raise
        self.undo = []
        if req.discover and not creates and req.state in ("logged_in", "present"):
            for portal in req.portals:          # keep the discoverydb auth as requested
                self.discoverydb(portal)
        for action, portal, _pairs in steps:
            base = adm.node_argv(req.target, portal, req.interface)
            if action == "login":
                self.do(base + ["--login"], "login to %s %s failed" % (req.target, portal),
                        ok_rcs=(0, adm.RC_SESS_EXISTS))
            elif action == "logout":
                self.do(base + ["--logout"], "logout from %s failed" % portal, ok_rcs=(0, adm.RC_NO_OBJS_FOUND))
            elif action == "delete":
                self.do(base + ["-o", "delete"], "cannot delete the node record %s" % portal)
        return self.result(records, sessions, steps)

    def result(self, records, sessions, steps):
        req = self.req
        changes = dict((p, set(k for k, _v in pairs)) for a, p, pairs in steps if a == "update")
        if self.check:
            after_records, after_sessions = predicted(req, records, sessions, steps)
        else:
            after_records, after_sessions = adm.read_state(self.run, req)
        out_sessions, found = [], {}
        if req.state == "logged_in" and not self.check:
            found = _devices.wait_devices(self.run, self.udevadm, [s["sid"] for s in after_sessions.values()],
                                          req.wait_timeout)
            missing = [str(p) for p in req.portals if p not in after_sessions]
            if missing:
                raise PlanError("state: no session to %s after the login" % ", ".join(missing), option="state")
        for portal in req.portals:
            s = after_sessions.get(portal)
            if s is not None:
                if self.check:
                    devs = []
                elif req.state == "logged_in":
                    devs = found.get(s["sid"], [])
                else:
                    devs = _devices.session_devices(s["sid"])[0]
                out_sessions.append(dict(target=req.target, portal=str(portal), interface=req.interface,
                                         sid=s["sid"], devices=devs))
        nodes = [dict(portal=str(p), interface=req.interface,
                      settings=np.redacted(dict((k, v) for k, v in after_records[p].items() if k.startswith("node."))))
                 for p in req.portals if after_records.get(p) is not None]
        return dict(changed=self.changed, sessions=out_sessions, nodes=nodes, commands=self.commands,
                    warnings=self.warnings,
                    diff=dict(before=np.describe(req, records, sessions),
                              after=np.describe(req, after_records, after_sessions, changes)))


def predicted(req, records, sessions, steps):
    """The records and sessions after ``steps`` (check mode)."""
    records = dict((p, dict(r) if r is not None else None) for p, r in records.items())
    sessions = dict(sessions)
    for action, portal, pairs in steps:
        if action == "create":
            records[portal] = {}
        elif action == "update":
            records[portal].update(pairs)
        elif action == "login":
            sessions[portal] = dict(sid=0, portal=portal)
        elif action == "logout":
            sessions.pop(portal, None)
        elif action == "delete":
            records[portal] = None
    return records, sessions
