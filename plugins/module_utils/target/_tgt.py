# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tgt provider of iscsi_target (private): read -> plan -> apply -> persist.

* read: parse ``tgtadm --op show --mode target|account|portal`` (tgt 1.0.85 output).
* plan: pure ``plan(state, specs, ...) -> [Change]``; refusals raise :class:`PlanError`.
* apply: the planned ``tgtadm`` commands through the Runner; nothing when the plan is empty
  (``tgt-admin --update`` is never used: it recreates idle targets even when nothing changed).
* persist: :mod:`_tgt_conf`; the module's flow (lock, exporters, rollback): :mod:`_tgt_run`.

tgt facts this relies on: CHAP accounts are global and tgtadm never shows their passwords (the
persisted file is the record of the last secret applied); deleting an account unbinds it from
every target; ACL entries are OR-ed; a target without ACL admits nobody.  One store, one
identity (:func:`_stores.store_id`): a hard link or a symlink to a store is that store.
"""

from __future__ import annotations

import copy
import ipaddress
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError, RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.common._stores import describe, store_id
from ansible_collections.sanboot.lab.plugins.module_utils.target import _params
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import TgtTarget, lun_size

REDACTED = "********"


class Change(object):
    """One tgtadm call: ``args`` after ``tgtadm -C N --lld iscsi``; ``text`` has no secrets;
    ``undo``: the calls that take it back if a later call fails (what this run created)."""

    def __init__(self, text, args=None, target=None, undo=None):
        self.text, self.args, self.target, self.undo = text, args, target, list(undo or [])

    def __repr__(self):
        return "Change(%r)" % self.text


# ---------------------------------------------------------------- plan
def _work_copy(state):
    """``state`` for the planner: targets with their own account lists (all planning changes;
    LUNs, ACLs, sessions shared read-only: a deep copy of 4,096 LUNs cost more than the plan)."""
    work = copy.copy(state)
    work.targets = {}
    for name, t in state.targets.items():
        c = work.targets[name] = copy.copy(t)
        c.incoming, c.outgoing = list(t.incoming), list(t.outgoing)
    return work


def _account_plan(state, specs, known, trust_unknown, force, work):
    """Create/recreate the CHAP accounts of ``specs``; returns changes, mutates ``work``."""
    wanted = {}
    for s in specs:
        for u, p in _users(s):
            if wanted.setdefault(u, p) != p:
                raise PlanError("chap: account %r is given two different secrets; tgt accounts "
                                "are global (one secret per username)" % u, option="chap")
    managed = set(s.name for s in specs)
    changes = []
    for user in sorted(wanted):
        pw = wanted[user]
        add = ["--op", "new", "--mode", "account", "--user", user, "--password", pw]
        if user not in state.accounts:
            changes.append(Change("create CHAP account %s (password %s)" % (user, REDACTED), add,
                                  undo=[["--op", "delete", "--mode", "account", "--user", user]]))
            continue
        if known.get(user) == pw or (user not in known and trust_unknown):
            continue
        others = sorted(t.name for t in work.targets.values()
                        if t.name not in managed and (user in t.incoming or user in t.outgoing))
        if others and not force:
            raise PlanError("chap: changing the secret of CHAP account %r would also change it "
                            "for target(s) %s: tgt accounts are global. Use another username, "
                            "manage those targets in the same call, or set force: true"
                            % (user, ", ".join(others)), option="chap")
        changes.append(Change("recreate CHAP account %s with a new password %s (tgt cannot "
                              "update one)" % (user, REDACTED),
                              ["--op", "delete", "--mode", "account", "--user", user]))
        changes.append(Change("", add))
        for t in work.targets.values():
            for lst, extra in ((t.incoming, []), (t.outgoing, ["--outgoing"])):
                if user in lst:
                    lst.remove(user)
                    if t.name not in managed:
                        changes.append(Change("re-bind CHAP account %s to %s" % (user, t.name),
                                              _bind_acct(t.tid, user, extra), t.name))
    return changes


def _users(spec):
    c = spec.chap or {}
    return [(c[u], c[p]) for u, p in (("username", "password"),
                                      ("mutual_username", "mutual_password")) if c.get(u)]


def _bind_acct(tid, user, extra, op="bind"):
    return ["--op", op, "--mode", "account", "--tid", str(tid), "--user", user] + extra


class _Users(object):
    """Who else exports a store, looked up by ``_stores.store_id``: the LUNs of the targets this
    run neither manages nor removes (by tid, then LUN order) and the other exporters
    (``exports``: a list, or a callable returning it, asked at the first lookup).  Both indexes
    are built once, at the first LUN that needs the check (none on a no-op run)."""

    def __init__(self, work, managed, removed, exports):
        self.work, self.managed, self.removed, self.exports = work, managed, removed, exports
        self.luns = self.others = None

    def of(self, want):
        if self.luns is None:
            self.luns, self.others = {}, {}
            for t in sorted(self.work.targets.values(), key=lambda x: x.tid):
                if t.name not in self.managed and t.name not in self.removed:
                    for other in t.luns:
                        self.luns.setdefault(store_id(other.path), []).append((t, other))
            exports = self.exports() if callable(self.exports) else self.exports
            for e in exports:
                self.others.setdefault(e.get("id"), []).append(e)
        return self.luns.get(want, []), self.others.get(want, [])


def _conflicts(spec, work, users_of):
    """Refuse a new export of a store that another target of this tgtd, another tgtd or a vblade
    already exports (unless both are read-only).  One identity (``_stores.store_id``): a hard link
    or a symlink to an exported store is that store.  LUNs the target already exports with that
    path are not re-checked unless they become writable.  ``users_of``: :class:`_Users`."""
    cur = work.targets.get(spec.name)
    for lun in spec.luns:
        old = cur.lun(lun.lun) if cur else None
        if old is not None and old.path == lun.path and (lun.readonly or not old.readonly):
            continue
        want = store_id(lun.path)
        if want is None:
            continue
        luns, exports = users_of.of(want)
        users = ["target %s LUN %d%s" % (t.name, other.lun, _as(other.path, lun.path))
                 for t, other in luns if not (lun.readonly and other.readonly)]
        users += ["%s%s" % (describe(e), _as(e.get("path"), lun.path)) for e in exports
                  if not (lun.readonly and e.get("readonly"))]
        if users:
            raise PlanError("luns: backing store %s (LUN %d of %s) is already exported by %s; two "
                            "exports of one store are allowed only when both are read-only (two "
                            "writers corrupt it)" % (lun.path, lun.lun, spec.name,
                                                     ", ".join(users)), option="luns")


def _as(path, mine):
    return "" if path == mine else " as %s (the same file)" % path


def _in_use(t, what, force):
    if t.sessions and not force:
        raise PlanError("%s: target %s has %d active session(s) (%s); refused unless force: true"
                        % (what, t.name, len(t.sessions),
                           ", ".join("%s from %s" % (s["initiator"], s["address"])
                                     for s in t.sessions)), option=what)


def _new_lun(tid, lun):
    args = ["--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun.lun),
            "-b", lun.path]
    out = [args + (["--bsoflags", "direct"] if lun.type == "blockio" else [])]
    if lun.readonly:
        out.append(_lu_param(tid, lun.lun, "readonly", "1"))
    if lun.serial:
        out.append(_lu_param(tid, lun.lun, "scsi_sn", lun.serial))
    return out


def _del_lun(tid, lun):
    return ["--op", "delete", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun)]


def _lu_param(tid, lun, key, value):
    return ["--op", "update", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun),
            "--params", "%s=%s" % (key, value)]


def _target_plan(spec, t, tid, force):
    """Changes that turn ``t`` (None: absent) into ``spec`` (present)."""
    n, ch = spec.name, []

    def add(text, args, undo=None):
        ch.append(Change(text, args, n, undo))
    if t is None:
        t = TgtTarget(tid, n)
        t.params = {}
        add("create target %s (tid %d)" % (n, tid),
            ["--op", "new", "--mode", "target", "--tid", str(tid), "-T", n],
            [["--op", "delete", "--mode", "target", "--tid", str(tid), "--force"]])
    _params_plan(spec, t, add)
    want = dict((lun.lun, lun) for lun in spec.luns)
    for cur in t.luns:
        new = want.get(cur.lun)
        if new is None or new.path != cur.path or new.type != cur.type:
            _in_use(t, "luns", force)
            add("%s LUN %d (%s) of %s" % ("remove" if new is None else "replace", cur.lun,
                                          cur.path, n),
                _del_lun(t.tid, cur.lun), _new_lun(t.tid, cur))
    for lun in spec.luns:
        cur = t.lun(lun.lun)
        if cur is None or lun.path != cur.path or lun.type != cur.type:
            for i, args in enumerate(_new_lun(t.tid, lun)):
                add("" if i else "add LUN %d %s (%s%s) to %s" % (
                    lun.lun, lun.path, lun.type, ", read-only" if lun.readonly else "", n), args,
                    None if i else [_del_lun(t.tid, lun.lun)])
            continue
        if lun.readonly != cur.readonly:
            if lun.readonly:
                _in_use(t, "luns[%d].readonly" % spec.luns.index(lun), force)
            add("set LUN %d of %s %s" % (lun.lun, n, "read-only" if lun.readonly else "read-write"),
                _lu_param(t.tid, lun.lun, "readonly", "1" if lun.readonly else "0"))
        if lun.serial and lun.serial != cur.serial:
            add("set serial of LUN %d of %s to %s" % (lun.lun, n, lun.serial),
                _lu_param(t.tid, lun.lun, "scsi_sn", lun.serial))
    c = spec.chap or {}
    for key, cur, extra, label in (("username", t.incoming, [], "CHAP"),
                                   ("mutual_username", t.outgoing, ["--outgoing"], "mutual CHAP")):
        want_u = c.get(key)
        for u in cur:
            if u != want_u:
                add("unbind %s account %s from %s" % (label, u, n),
                    _bind_acct(t.tid, u, extra, "unbind"))
        if want_u and want_u not in cur:
            add("bind %s account %s to %s" % (label, want_u, n), _bind_acct(t.tid, want_u, extra))
    cur_acl = (["ALL"] if t.allow_all else []) + t.addresses + t.initiators
    want_acl = ["ALL"] if spec.allow_all else spec.addresses + spec.initiators
    for e in cur_acl:       # tighten first, then widen
        if e not in want_acl:
            add("unbind ACL %s from %s" % (e, n), _acl(t.tid, e, "unbind"))
    for e in want_acl:
        if e not in cur_acl:
            add("allow %s on %s" % (e, n), _acl(t.tid, e, "bind"))
    return ch


def _params_plan(spec, t, add):
    """Set the data-path parameters the request gives (``t.params`` empty: a new target,
    starting from tgtd's defaults); the undo of a change sets the old value again."""
    if not spec.parameters:
        return
    current = t.params or {}
    _params.check_bursts(spec.parameters, "parameters of %s" % spec.name,
                         current or _params.TGT_DEFAULTS)
    for key, old, new in _params.plan(spec.parameters, current):
        add("set %s of %s to %s%s" % (key, spec.name, _params.tgt_value(new),
                                      "" if old is None else " (was %s)" % _params.tgt_value(old)),
            _params.update_args(t.tid, key, new),
            None if old is None else [_params.update_args(t.tid, key, old)])


def _acl(tid, entry, op):
    flag = "-Q" if entry.startswith(("iqn.", "eui.", "naa.")) else "-I"
    return ["--op", op, "--mode", "target", "--tid", str(tid), flag, entry]


def normalise_portal(value, what="portals"):
    """``"ADDR[:PORT]"`` -> ``"ADDR:PORT"`` (IPv6 as ``[ADDR]:PORT``); RequestError (a
    ValueError) naming ``what`` when bad."""
    v = str(value).strip()
    m = re.match(r"^\[([0-9a-fA-F:.]+)\](?::(\d+))?$", v) or \
        re.match(r"^([0-9.]+)(?::(\d+))?$", v) or re.match(r"^([0-9a-fA-F:]+)()$", v)
    try:
        addr = ipaddress.ip_address(m.group(1)) if m else None
    except ValueError:
        addr = None
    port = int(m.group(2)) if m and m.group(2) else 3260
    if addr is None or not 0 < port < 65536:
        raise RequestError("%s: %r is not ADDR[:PORT] (IPv6 as [ADDR]:PORT, port 1-65535)"
                           % (what, value), option=what)
    return ("[%s]:%d" if addr.version == 6 else "%s:%d") % (addr, port)


def plan(state, specs, force=False, purge=False, portals=(), known=None, trust_unknown=False,
         exports=()):
    """Changes turning ``state`` into ``specs`` (pure; raises PlanError before any change).

    ``known``: ``{username: secret}`` last applied (from the persisted files);
    ``trust_unknown``: accept an existing account whose secret is not known;
    ``exports``: what the other exporters export (``_stores.all_exports``: other tgtds, vblades),
    or a callable returning it, called only when a LUN needs the store check.
    """
    work = _work_copy(state)
    present = [s for s in specs if s.state == "present"]
    managed = set(s.name for s in present)
    removed = [work.targets[s.name] for s in specs if s.state == "absent" and s.name in work.targets]
    if purge:
        listed = set(s.name for s in specs)
        removed += [t for name, t in sorted(work.targets.items()) if name not in listed]
    removed_names = set(t.name for t in removed)
    for t in removed:
        _in_use(t, "state" if not purge or t.name in managed else "purge", force)
    users_of = _Users(work, managed, removed_names, exports)
    for s in present:
        _conflicts(s, work, users_of)
    changes = [Change("add portal %s (daemon-wide)" % p,
                      ["--op", "new", "--mode", "portal", "--param", "portal=%s" % p])
               for p in portals if p not in state.portals]
    changes += _account_plan(state, present, known or {}, trust_unknown, force, work)
    used, free = set(t.tid for t in work.targets.values()), 1
    for s in present:
        t = work.targets.get(s.name)
        while free in used:     # the lowest unused tid (``used`` only grows)
            free += 1
        tid = t.tid if t else free
        used.add(tid)
        changes += _target_plan(s, t, tid, force)
    for t in sorted(removed, key=lambda x: x.tid):
        changes.append(Change("remove target %s (tid %d)%s" % (
            t.name, t.tid, " with %d active session(s) (force)" % len(t.sessions)
            if t.sessions else ""),
            ["--op", "delete", "--mode", "target", "--tid", str(t.tid)]
            + (["--force"] if t.sessions else []), t.name))
    still = set()
    for t in state.targets.values():
        if t.name not in removed_names and t.name not in managed:
            still.update(t.incoming + t.outgoing)
    for s in present:
        still.update(u for u, dummy in _users(s))
    gone = set()
    for t in [state.targets[n] for n in removed_names | managed if n in state.targets]:
        gone.update(t.incoming + t.outgoing)
    for user in sorted(gone - still):
        if user in state.accounts:
            changes.append(Change("delete CHAP account %s (no longer bound)" % user,
                                  ["--op", "delete", "--mode", "account", "--user", user]))
    return changes


# ---------------------------------------------------------------- report
def summary(t, chap=None):
    """Return value / diff form of a target (no secrets)."""
    if t is None:
        return None
    out = dict(name=t.name, tid=t.tid,
               luns=[dict(lun=x.lun, path=x.path, size_bytes=x.size_bytes, readonly=x.readonly,
                          type=x.type, serial=x.serial) for x in t.luns],
               initiators=list(t.initiators), initiator_addresses=list(t.addresses),
               allow_all=t.allow_all, chap_users=list(t.incoming),
               mutual_chap_users=list(t.outgoing), sessions=list(t.sessions))
    if t.params is not None:    # read (or predicted) only when the request sets parameters
        out["parameters"] = dict(t.params)
    return out


def predicted(spec, current, tid):
    """The target ``spec`` would give (check mode's ``after``)."""
    t = TgtTarget(current.tid if current else tid, spec.name)
    for lun in spec.luns:
        cur = current.lun(lun.lun) if current else None
        x = copy.copy(lun)
        x.size_bytes = lun_size(lun.path, 0)
        x.serial = lun.serial or (cur.serial if cur and cur.path == lun.path else None)
        t.luns.append(x)
    t.allow_all, t.initiators, t.addresses = spec.allow_all, list(spec.initiators), list(spec.addresses)
    t.incoming = [spec.chap["username"]] if spec.chap and spec.chap.get("username") else []
    t.outgoing = [spec.chap["mutual_username"]] if spec.chap and spec.chap.get("mutual_username") else []
    t.sessions = list(current.sessions) if current else []
    if spec.parameters:
        base = (current.params if current else None) or _params.TGT_DEFAULTS
        t.params = dict(base, **spec.parameters)
    return t


def redact(argv):
    """``argv`` with the value after ``--password`` masked."""
    return [REDACTED if i and argv[i - 1] == "--password" else a for i, a in enumerate(argv)]
