# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ietd (iSCSI Enterprise Target) provider of iscsi_target (private).

Renders the managed targets into the legacy IET files and keeps everything else in them:

* ``ietd.conf``: ``Target NAME`` blocks with ``Lun N Path=...,Type=fileio|blockio[,IOMode=ro]``,
  ``IncomingUser``, ``OutgoingUser``, ``Alias``;
* ``initiators.allow`` / ``initiators.deny``: ``NAME entry, entry`` lines.  IET admits an
  initiator that matches the allow line, else refuses one that matches the deny line, else admits
  it: so a managed target gets ``NAME ALL`` in ``initiators.deny`` unless ``allow_all``.

Where ``ietadm`` and ``/proc/net/iet`` exist, a new, changed or removed target is applied live
(delete + create: IET cannot change a LUN in place); otherwise only the files are written.
"""

from __future__ import annotations

import os
import re
import shlex

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError, fail
from ansible_collections.sanboot.lab.plugins.module_utils.common._files import write_atomic

REDACTED = "********"
_TARGET = re.compile(r"^\s*Target\s+(\S+)", re.I)


class IetError(PlanError):
    """A refused request (nothing has been changed)."""


def split_conf(text):
    """``(head, [(name, block_text)])`` of an ietd.conf (``head``: text before any Target)."""
    head, blocks = [], []
    for line in text.splitlines(True):
        m = _TARGET.match(line)
        if m:
            blocks.append([m.group(1).lower(), line])
        elif blocks:
            blocks[-1][1] += line
        else:
            head.append(line)
    return "".join(head), [tuple(b) for b in blocks]


def _addr(entry):
    return "[%s]" % entry if ":" in entry and not entry.startswith(("iqn.", "eui.", "naa.")) \
        else entry


def render_target(spec, alias=None):
    """The ``Target`` block of ``spec`` (holds the CHAP secrets)."""
    lines = ["Target %s" % spec.name]
    if alias:
        lines.append("\tAlias %s" % alias)
    for lun in spec.luns:
        opts = "Path=%s,Type=%s" % (lun.path, lun.type)
        if lun.readonly:
            opts += ",IOMode=ro"
        if lun.serial:
            opts += ",ScsiSN=%s" % lun.serial
        lines.append("\tLun %d %s" % (lun.lun, opts))
    c = spec.chap or {}
    if c.get("username"):
        lines.append("\tIncomingUser %s %s" % (c["username"], c["password"]))
    if c.get("mutual_username"):
        lines.append("\tOutgoingUser %s %s" % (c["mutual_username"], c["mutual_password"]))
    return "\n".join(lines) + "\n"


def update_conf(text, specs, purge=False):
    """New ietd.conf text: managed blocks replaced/added/removed, other blocks kept."""
    head, blocks = split_conf(text)
    want = dict((s.name, s) for s in specs)
    out, done = [head] if head else [], set()
    for name, block in blocks:
        s = want.get(name)
        if s is None:
            if not purge:
                out.append(block)
        elif s.state == "present" and name not in done:
            out.append(render_target(s) + ("\n" if block.endswith("\n\n") else ""))
            done.add(name)
    for s in specs:
        if s.state == "present" and s.name not in done:
            if out and not out[-1].endswith("\n\n"):
                out.append("\n")
            out.append(render_target(s))
    return "".join(out)


def acl_line(spec, kind):
    """The ``initiators.allow`` (kind ``allow``) or ``initiators.deny`` line of ``spec`` or None."""
    if spec.state != "present":
        return None
    if kind == "deny":
        return None if spec.allow_all else "%s ALL" % spec.name
    if spec.allow_all:
        return "%s ALL" % spec.name
    entries = [_addr(a) for a in spec.addresses] + list(spec.initiators)
    return "%s %s" % (spec.name, ", ".join(entries)) if entries else None


def update_acl(text, specs, kind, purge=False):
    """New initiators.allow/deny text: managed lines replaced, other lines kept."""
    want = dict((s.name, s) for s in specs)
    out, done = [], set()
    for line in text.splitlines():
        first = line.split()[0].lower() if line.strip() and not line.lstrip().startswith("#") else None
        if first is None or (first not in want and not (purge and first != "all")):
            out.append(line)
            continue
        if first in want and first not in done:
            new = acl_line(want[first], kind)
            if new:
                out.append(new)
            done.add(first)
    for s in specs:
        new = acl_line(s, kind) if s.name not in done else None
        if new:
            out.append(new)
    return "\n".join(out) + "\n" if out else ""


def redact(text):
    return re.sub(r"^(\s*(?:Incoming|Outgoing)User\s+\S+\s+)\S+", r"\g<1>" + REDACTED, text,
                  flags=re.M | re.I)


def parse_volumes(text):
    """``{name: dict(tid, luns=[dict(lun, path, iotype, iomode)])}`` from /proc/net/iet/volume."""
    out, cur = {}, None
    for line in text.splitlines():
        fields = dict(f.split(":", 1) for f in line.split() if ":" in f)
        if line[:1] not in (" ", "\t") and "tid" in fields:
            cur = out.setdefault(fields.get("name", "").lower(), dict(tid=int(fields["tid"]), luns=[]))
        elif cur is not None and "lun" in fields:
            cur["luns"].append(dict(lun=int(fields["lun"]), path=fields.get("path"),
                                    iotype=fields.get("iotype"), iomode=fields.get("iomode")))
    return out


def parse_sessions(text):
    """``{name: [dict(initiator, address)]}`` from /proc/net/iet/session."""
    out, cur, sess = {}, None, None
    for line in text.splitlines():
        fields = dict(f.split(":", 1) for f in line.split() if ":" in f)
        if line[:1] not in (" ", "\t") and "tid" in fields:
            cur = out.setdefault(fields.get("name", "").lower(), [])
        elif cur is not None and "sid" in fields:
            sess = dict(initiator=fields.get("initiator"), address=None)
            cur.append(sess)
        elif sess is not None and "ip" in fields:
            sess["address"] = fields["ip"].strip("[]")
    return out


def live_commands(ietadm, specs, changed, volumes, sessions, force=False):
    """ietadm argv lists for the targets in ``changed`` (names); raises IetError when in use."""
    cmds, used = [], set(v["tid"] for v in volumes.values())
    for s in specs:
        live = volumes.get(s.name)
        if s.name not in changed and (live or s.state == "absent"):
            continue
        if live and sessions.get(s.name) and not force:
            raise IetError("target %s has %d active session(s); changing or removing it "
                           "recreates it: refused unless force: true"
                           % (s.name, len(sessions[s.name])))
        if live:
            cmds.append([ietadm, "--op", "delete", "--tid=%d" % live["tid"]])
        if s.state != "present":
            continue
        tid = live["tid"] if live else max(used | {0}) + 1
        used.add(tid)
        cmds.append([ietadm, "--op", "new", "--tid=%d" % tid, "--params", "Name=%s" % s.name])
        for lun in s.luns:
            opts = "Path=%s,Type=%s%s" % (lun.path, lun.type, ",IOMode=ro" if lun.readonly else "")
            cmds.append([ietadm, "--op", "new", "--tid=%d" % tid, "--lun=%d" % lun.lun,
                         "--params", opts])
        c = s.chap or {}
        for user, pw, key in (("username", "password", "IncomingUser"),
                              ("mutual_username", "mutual_password", "OutgoingUser")):
            if c.get(user):
                cmds.append([ietadm, "--op", "new", "--tid=%d" % tid, "--user",
                             "--params=%s=%s,Password=%s" % (key, c[user], c[pw])])
    return cmds


def _size(path):
    try:
        with open(path, "rb") as f:
            return f.seek(0, 2)
    except (OSError, IOError):
        return None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (OSError, IOError):
        return ""


def converge(module, runner, specs, portals):
    """Render, write and (where possible) apply live; returns the module result dict."""
    p = module.params
    d = p["config_dir"] or "/etc/iet"
    if portals:
        module.warn("portals: ignored by provider ietd (IET listens on every address)")
    files = [("ietd.conf", 0o600), ("initiators.allow", 0o644), ("initiators.deny", 0o644)]
    old = dict((f, _read(os.path.join(d, f))) for f, dummy in files)
    new = {"ietd.conf": update_conf(old["ietd.conf"], specs, p["purge"]),
           "initiators.allow": update_acl(old["initiators.allow"], specs, "allow", p["purge"]),
           "initiators.deny": update_acl(old["initiators.deny"], specs, "deny", p["purge"])}
    blocks_old = dict(split_conf(old["ietd.conf"])[1])
    blocks_new = dict(split_conf(new["ietd.conf"])[1])
    changed_names = set(n for n in set(blocks_old) | set(blocks_new)
                        if blocks_old.get(n, "").strip() != blocks_new.get(n, "").strip())
    for s in specs:
        for kind in ("allow", "deny"):
            f = "initiators." + kind
            if update_acl(old[f], [s], kind) != old[f]:
                changed_names.add(s.name)
    ietadm = runner.which("ietadm", required=False)
    cmds = []
    if ietadm and os.path.exists("/proc/net/iet/volume"):
        try:
            cmds = live_commands(ietadm, specs, changed_names,
                                 parse_volumes(_read("/proc/net/iet/volume")),
                                 parse_sessions(_read("/proc/net/iet/session")), p["force"])
        except IetError as e:
            fail(module, e)
    elif changed_names:
        module.warn("ietadm or /proc/net/iet not found: only the IET files were written; "
                    "(re)start ietd to apply them")
    changes = ["write %s" % os.path.join(d, f) for f, dummy in files if new[f] != old[f]]
    changes += ["ietadm: %s" % " ".join(redact_argv(c[1:])) for c in cmds]
    commands = []
    if not module.check_mode:
        for f, mode in files:
            if new[f] != old[f]:
                write_atomic(os.path.join(d, f), new[f], mode, parents=True)
        for c in cmds:
            runner(c, msg="ietadm failed")
            commands.append(" ".join(shlex.quote(x) for x in redact_argv(c)))
    result = dict(changed=bool(changes), changes=changes, commands=commands,
                  targets=[dict(name=s.name, luns=[dict(x.as_dict(), size_bytes=_size(x.path))
                                                   for x in s.luns],
                                initiators=s.initiators, initiator_addresses=s.addresses,
                                allow_all=s.allow_all, sessions=[])
                           for s in specs if s.state == "present"])
    result["target"] = result["targets"][0] if p["name"] and result["targets"] else None
    if module._diff:
        def view(texts):
            return "".join("# %s\n%s" % (f, redact(texts[f])) for f, dummy in files)
        result["diff"] = dict(before=view(old), after=view(new), before_header=d, after_header=d)
    return result


def redact_argv(argv):
    return [re.sub(r"Password=[^,]*", "Password=" + REDACTED, a) for a in argv]
