# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tgt provider of iscsi_target (private): read -> plan -> apply -> persist.

* read: parse ``tgtadm --op show --mode target|account|portal`` (tgt 1.0.85 output).
* plan: pure ``plan(state, specs, ...) -> [Change]``; refusals raise :class:`PlanError`.
* apply: the planned ``tgtadm`` commands through the Runner; nothing when the plan is empty
  (``tgt-admin --update`` is never used: it recreates idle targets even when nothing changed).
* persist: one tgt-admin config file per target (mode 0600: it holds the CHAP secrets), read by
  ``tgt-admin -e`` when tgtd restarts.

tgt facts this relies on: CHAP accounts are global and tgtadm never shows their passwords (the
persisted file is the record of the last secret applied); deleting an account unbinds it from
every target; ACL entries are OR-ed; a target without ACL admits nobody, but ``tgt-admin`` binds
``ALL`` to a configured target without ``initiator-address``, so the persisted file of a target
restricted by name carries the never-matching address :data:`NO_ADDRESS`.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import stat
import tempfile

from ansible_collections.sanboot.lab.plugins.module_utils._target_spec import Lun

NO_ADDRESS = "255.255.255.255"   # limited broadcast: never the source of a TCP connection
MARKER = "# Managed by sanboot.lab.iscsi_target"
REDACTED = "********"


class PlanError(Exception):
    """A refused request (nothing has been changed)."""


class TgtTarget(object):
    """A target as tgtd reports it."""

    def __init__(self, tid, name):
        self.tid, self.name = tid, name
        self.luns, self.initiators, self.addresses = [], [], []
        self.allow_all = False
        self.incoming, self.outgoing, self.sessions = [], [], []

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


class Change(object):
    """One tgtadm call: ``args`` after ``tgtadm -C N --lld iscsi``; ``text`` has no secrets."""

    def __init__(self, text, args=None, target=None):
        self.text, self.args, self.target = text, args, target

    def __repr__(self):
        return "Change(%r)" % self.text


# ---------------------------------------------------------------- read
def _size(path, fallback):
    try:
        st = os.stat(path)
        if stat.S_ISBLK(st.st_mode):
            with open(path, "rb") as f:
                return f.seek(0, 2)
        return st.st_size
    except (OSError, IOError):
        return fallback


def parse_targets(text, sizes=True):
    """Targets from ``tgtadm --op show --mode target`` (LUN 0, the controller, is left out)."""
    targets, t, section, lun, sess = [], None, None, None, None
    for raw in text.splitlines():
        m = re.match(r"^Target (\d+): (\S+)\s*$", raw)
        if m:
            t = TgtTarget(int(m.group(1)), m.group(2))
            targets.append(t)
            section = lun = sess = None
            continue
        line = raw.strip()
        if t is None or not line:
            continue
        if raw.startswith("    ") and not raw.startswith("     ") and line.endswith("information:"):
            section = line[:-len(" information:")]
            continue
        if section == "I_T nexus":
            if line.startswith("I_T nexus:"):
                sess = dict(initiator=None, address=None)
                t.sessions.append(sess)
            elif line.startswith("Initiator:") and sess is not None:
                sess["initiator"] = line.split(":", 1)[1].split(" alias:")[0].strip()
            elif line.startswith("IP Address:") and sess is not None:
                sess["address"] = line.split(":", 1)[1].strip()
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
                lun.size_bytes = _size(lun.path, lun.size_bytes)
    return targets


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
    """TgtState of the tgtd listening on ``control_port`` (``running=False`` when none answers)."""
    base = tgtadm(runner, control_port)
    rc, out, err = runner(base + ["--op", "show", "--mode", "target"], check=False)
    if rc != 0:
        if required:
            runner.fail("tgtd does not answer on control port %d (is tgtd running? start it "
                        "before using provider tgt)" % control_port,
                        base + ["--op", "show", "--mode", "target"], rc, out, err)
        return TgtState(running=False)
    targets = parse_targets(out)
    accounts = parse_accounts(runner(base + ["--op", "show", "--mode", "account"])[1])
    portals = parse_portals(runner(base + ["--op", "show", "--mode", "portal"])[1])
    return TgtState(targets, accounts, portals)


def backing_stores(runner, control_port=0):
    """``{path: [dict(target, lun, readonly)]}`` of the tgtd on ``control_port``; {} if none."""
    state = read(runner, control_port, required=False)
    out = {}
    for t in state.targets.values():
        for lun in t.luns:
            out.setdefault(lun.path, []).append(dict(target=t.name, lun=lun.lun,
                                                     readonly=lun.readonly))
    return out


def vblade_exports():
    """Running vblade exports (empty when the AoE helper is not available)."""
    try:
        from ansible_collections.sanboot.lab.plugins.module_utils._vblade import running_exports
    except ImportError:
        return []
    try:
        return list(running_exports(all_netns=True))
    except Exception:  # pylint: disable=broad-except
        return []


# ---------------------------------------------------------------- plan
def _account_plan(state, specs, known, trust_unknown, force, work):
    """Create/recreate the CHAP accounts of ``specs``; returns changes, mutates ``work``."""
    wanted = {}
    for s in specs:
        for u, p in _users(s):
            if wanted.setdefault(u, p) != p:
                raise PlanError("chap: account %r is given two different secrets; tgt accounts "
                                "are global (one secret per username)" % u)
    managed = set(s.name for s in specs)
    changes = []
    for user in sorted(wanted):
        pw = wanted[user]
        add = ["--op", "new", "--mode", "account", "--user", user, "--password", pw]
        if user not in state.accounts:
            changes.append(Change("create CHAP account %s (password %s)" % (user, REDACTED), add))
            continue
        if known.get(user) == pw or (user not in known and trust_unknown):
            continue
        others = sorted(t.name for t in work.targets.values()
                        if t.name not in managed and (user in t.incoming or user in t.outgoing))
        if others and not force:
            raise PlanError("chap: changing the secret of CHAP account %r would also change it "
                            "for target(s) %s: tgt accounts are global. Use another username, "
                            "manage those targets in the same call, or set force: true"
                            % (user, ", ".join(others)))
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


def _conflicts(spec, work, managed, removed, exports):
    """Refuse a new export of a store another target or a vblade export already uses (not both
    read-only).  LUNs the target already exports with that path are not re-checked."""
    cur = work.targets.get(spec.name)
    for lun in spec.luns:
        old = cur.lun(lun.lun) if cur else None
        if old is not None and old.path == lun.path and (lun.readonly or not old.readonly):
            continue
        real = os.path.realpath(lun.path)
        for t in work.targets.values():
            if t.name in managed or t.name in removed:
                continue
            for other in t.luns:
                if other.path and os.path.realpath(other.path) == real \
                        and not (lun.readonly and other.readonly):
                    raise PlanError("luns: backing store %s (LUN %d of %s) is already exported "
                                    "by target %s LUN %d; two exports of one store are allowed "
                                    "only when both are read-only" % (lun.path, lun.lun, spec.name,
                                                                      t.name, other.lun))
        for e in exports:
            if _same_file(e, lun.path, real) and not (lun.readonly and e.get("readonly")):
                raise PlanError("luns: backing store %s (LUN %d of %s) is already exported by "
                                "vblade as AoE e%s.%s (pid %s); two exports of one store are "
                                "allowed only when both are read-only"
                                % (lun.path, lun.lun, spec.name, e.get("shelf"), e.get("slot"),
                                   e.get("pid")))


def _same_file(export, path, real):
    """Whether a vblade export serves ``path``: by (device, inode) when the export reports it
    (a vblade in a container sees its own root), else by resolved path."""
    fid = export.get("file_id")
    if fid:
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == tuple(fid)
    return bool(export.get("path")) and os.path.realpath(export["path"]) == real


def _in_use(t, what, force):
    if t.sessions and not force:
        raise PlanError("%s: target %s has %d active session(s) (%s); refused unless force: true"
                        % (what, t.name, len(t.sessions),
                           ", ".join("%s from %s" % (s["initiator"], s["address"])
                                     for s in t.sessions)))


def _new_lun(tid, lun):
    args = ["--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun.lun),
            "-b", lun.path]
    out = [args + (["--bsoflags", "direct"] if lun.type == "blockio" else [])]
    if lun.readonly:
        out.append(_lu_param(tid, lun.lun, "readonly", "1"))
    if lun.serial:
        out.append(_lu_param(tid, lun.lun, "scsi_sn", lun.serial))
    return out


def _lu_param(tid, lun, key, value):
    return ["--op", "update", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(lun),
            "--params", "%s=%s" % (key, value)]


def _target_plan(spec, t, tid, force):
    """Changes that turn ``t`` (None: absent) into ``spec`` (present)."""
    n, ch = spec.name, []

    def add(text, args):
        ch.append(Change(text, args, n))
    if t is None:
        t = TgtTarget(tid, n)
        add("create target %s (tid %d)" % (n, tid),
            ["--op", "new", "--mode", "target", "--tid", str(tid), "-T", n])
    want = dict((lun.lun, lun) for lun in spec.luns)
    for cur in t.luns:
        new = want.get(cur.lun)
        if new is None or new.path != cur.path or new.type != cur.type:
            _in_use(t, "luns", force)
            add("%s LUN %d (%s) of %s" % ("remove" if new is None else "replace", cur.lun,
                                          cur.path, n),
                ["--op", "delete", "--mode", "logicalunit", "--tid", str(t.tid), "--lun",
                 str(cur.lun)])
    for lun in spec.luns:
        cur = t.lun(lun.lun)
        if cur is None or lun.path != cur.path or lun.type != cur.type:
            for i, args in enumerate(_new_lun(t.tid, lun)):
                add("" if i else "add LUN %d %s (%s%s) to %s" % (
                    lun.lun, lun.path, lun.type, ", read-only" if lun.readonly else "", n), args)
            continue
        if lun.readonly != cur.readonly:
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


def _acl(tid, entry, op):
    flag = "-Q" if entry.startswith(("iqn.", "eui.", "naa.")) else "-I"
    return ["--op", op, "--mode", "target", "--tid", str(tid), flag, entry]


def normalise_portal(value, what="portals"):
    """``"ADDR[:PORT]"`` -> ``"ADDR:PORT"`` (IPv6 as ``[ADDR]:PORT``); ValueError when bad."""
    import ipaddress
    v = str(value).strip()
    m = re.match(r"^\[([0-9a-fA-F:.]+)\](?::(\d+))?$", v) or \
        re.match(r"^([0-9.]+)(?::(\d+))?$", v) or re.match(r"^([0-9a-fA-F:]+)()$", v)
    try:
        addr = ipaddress.ip_address(m.group(1)) if m else None
    except ValueError:
        addr = None
    port = int(m.group(2)) if m and m.group(2) else 3260
    if addr is None or not 0 < port < 65536:
        raise ValueError("%s: %r is not ADDR[:PORT] (IPv6 as [ADDR]:PORT, port 1-65535)"
                         % (what, value))
    return ("[%s]:%d" if addr.version == 6 else "%s:%d") % (addr, port)


def plan(state, specs, force=False, purge=False, portals=(), known=None, trust_unknown=False,
         exports=()):
    """Changes turning ``state`` into ``specs`` (pure; raises PlanError before any change).

    ``known``: ``{username: secret}`` last applied (from the persisted files);
    ``trust_unknown``: accept an existing account whose secret is not known;
    ``exports``: running vblade exports (``_vblade.running_exports()``).
    """
    work = copy.deepcopy(state)
    present = [s for s in specs if s.state == "present"]
    managed = set(s.name for s in present)
    removed = [work.targets[s.name] for s in specs if s.state == "absent" and s.name in work.targets]
    if purge:
        removed += [t for name, t in sorted(work.targets.items())
                    if name not in set(s.name for s in specs)]
    removed_names = set(t.name for t in removed)
    for t in removed:
        _in_use(t, "state" if not purge or t.name in managed else "purge", force)
    for s in present:
        _conflicts(s, work, managed, removed_names, exports)
    changes = [Change("add portal %s (daemon-wide)" % p,
                      ["--op", "new", "--mode", "portal", "--param", "portal=%s" % p])
               for p in portals if p not in state.portals]
    changes += _account_plan(state, present, known or {}, trust_unknown, force, work)
    used = set(t.tid for t in work.targets.values())
    for s in present:
        t = work.targets.get(s.name)
        tid = t.tid if t else min(set(range(1, len(used) + 2)) - used)
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


# ---------------------------------------------------------------- apply
def apply(runner, changes, control_port=0):
    """Run the planned tgtadm commands; return the argv lists that ran (the writes)."""
    base = tgtadm(runner, control_port)
    ran = []
    for c in changes:
        if c.args:
            argv = base + c.args
            runner(argv, msg="tgtadm failed: %s" % (c.text or "(continued)"))
            ran.append(argv)
    return ran


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
    return out


def predicted(spec, current, tid):
    """The target ``spec`` would give (check mode's ``after``)."""
    t = TgtTarget(current.tid if current else tid, spec.name)
    for lun in spec.luns:
        cur = current.lun(lun.lun) if current else None
        x = copy.copy(lun)
        x.size_bytes = _size(lun.path, 0)
        x.serial = lun.serial or (cur.serial if cur and cur.path == lun.path else None)
        t.luns.append(x)
    t.allow_all, t.initiators, t.addresses = spec.allow_all, list(spec.initiators), list(spec.addresses)
    t.incoming = [spec.chap["username"]] if spec.chap and spec.chap.get("username") else []
    t.outgoing = [spec.chap["mutual_username"]] if spec.chap and spec.chap.get("mutual_username") else []
    t.sessions = list(current.sessions) if current else []
    return t


# ---------------------------------------------------------------- persist
def config_path(config_dir, name):
    return os.path.join(config_dir, "%s.conf" % name.replace(":", "_"))


def render_config(spec):
    """tgt-admin config text for ``spec`` (holds the CHAP secrets)."""
    lines = [MARKER + ": the next run overwrites this file.",
             "# tgt-admin reads it when tgtd starts (targets.conf includes conf.d/*.conf).",
             "<target %s>" % spec.name]
    for lun in spec.luns:
        lines += ["    <backing-store %s>" % lun.path, "        lun %d" % lun.lun]
        if lun.type == "blockio":
            lines.append("        bsoflags direct")
        if lun.readonly:
            lines.append("        readonly 1")
        if lun.serial:
            lines.append("        scsi_sn %s" % lun.serial)
        lines.append("    </backing-store>")
    if not spec.allow_all:
        if not spec.addresses:
            lines += ["    # never matches: without any initiator-address tgt-admin would bind ALL",
                      "    initiator-address %s" % NO_ADDRESS]
        lines += ["    initiator-address %s" % a for a in spec.addresses]
        lines += ["    initiator-name %s" % i for i in spec.initiators]
    c = spec.chap or {}
    if c.get("username"):
        lines.append("    incominguser %s %s" % (c["username"], c["password"]))
    if c.get("mutual_username"):
        lines.append("    outgoinguser %s %s" % (c["mutual_username"], c["mutual_password"]))
    lines.append("</target>")
    return "\n".join(lines) + "\n"


def _managed_files(config_dir):
    try:
        names = sorted(os.listdir(config_dir))
    except OSError:
        return []
    out = []
    for fn in names:
        path = os.path.join(config_dir, fn)
        if fn.endswith(".conf") and os.path.isfile(path):
            try:
                with open(path) as f:
                    text = f.read()
            except (OSError, IOError):
                continue
            if text.startswith(MARKER):
                out.append((path, text))
    return out


def known_secrets(config_dir):
    """``{username: secret}`` from the files this module wrote under ``config_dir``."""
    out = {}
    for dummy, text in _managed_files(config_dir):
        for m in re.finditer(r"^\s*(?:incoming|outgoing)user\s+(\S+)\s+(\S+)\s*$", text, re.M):
            out[m.group(1)] = m.group(2)
    return out


def persist_plan(config_dir, specs, purge=False):
    """``[(path, text or None)]`` that differ from disk (None: remove the file)."""
    out, wanted = [], set()
    for s in specs:
        path = config_path(config_dir, s.name)
        wanted.add(path)
        text = render_config(s) if s.state == "present" else None
        try:
            with open(path) as f:
                old = f.read()
        except (OSError, IOError):
            old = None
        if old != text and not (text is None and (old is None or not old.startswith(MARKER))):
            out.append((path, text))
    if purge:
        for path, text in _managed_files(config_dir):
            if path not in wanted:
                out.append((path, None))
    return out


def persist(writes):
    """Write (0600, atomically) or remove the files of :func:`persist_plan`."""
    for path, text in writes:
        if text is None:
            os.unlink(path)
            continue
        d = os.path.dirname(path)
        if not os.path.isdir(d):
            os.makedirs(d, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".sanboot-", dir=d)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.rename(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


# ---------------------------------------------------------------- the module's flow
def redact(argv):
    """``argv`` with the value after ``--password`` masked."""
    return [REDACTED if i and argv[i - 1] == "--password" else a for i, a in enumerate(argv)]


def converge(module, runner, specs, portals):
    """read -> plan -> apply -> persist for provider tgt; returns the module result dict."""
    from ansible_collections.sanboot.lab.plugins.module_utils._target_spec import to_yaml
    p = module.params
    cp, config_dir = p["control_port"], p["config_dir"] or "/etc/tgt/conf.d"
    state = read(runner, cp)
    try:
        changes = plan(state, specs, force=p["force"], purge=p["purge"], portals=portals,
                       known=known_secrets(config_dir), trust_unknown=not p["persist"],
                       exports=vblade_exports())
    except PlanError as e:
        module.fail_json(msg=str(e))
    writes = persist_plan(config_dir, specs, p["purge"]) if p["persist"] else []
    texts = [c.text for c in changes if c.text]
    texts += ["%s %s" % ("remove" if t is None else "write", path) for path, t in writes]
    names = [s.name for s in specs]
    names += sorted(set(c.target for c in changes if c.target and c.target not in names))
    commands = []
    if module.check_mode:
        after = dict((s.name, predicted(s, state.targets.get(s.name), None))
                     for s in specs if s.state == "present")
    else:
        commands = [" ".join(shlex.quote(x) for x in redact(a)) for a in apply(runner, changes, cp)]
        persist(writes)
        after = (read(runner, cp) if commands else state).targets
    before_l = [summary(state.targets.get(n)) for n in names if n in state.targets]
    after_l = [summary(after.get(n)) for n in names if n in after]
    result = dict(changed=bool(texts), changes=texts, commands=commands, targets=after_l,
                  target=after_l[0] if p["name"] and after_l else None)
    if module._diff:
        result["diff"] = dict(before=to_yaml(before_l), after=to_yaml(after_l),
                              before_header="tgtd (control port %d)" % cp,
                              after_header="tgtd (control port %d)" % cp)
    return result
