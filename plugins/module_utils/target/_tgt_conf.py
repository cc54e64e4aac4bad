# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tgt provider of iscsi_target (private): the persisted tgt-admin config, one file per target.

Mode 0600 (it holds the CHAP secrets), read by ``tgt-admin -e`` when tgtd restarts.  tgt-admin
1.0.85 parses it with Perl's Config::General (``#`` starts a comment anywhere, ``\\`` escapes,
``<``/``>`` delimit blocks, a trailing ``\\`` continues the line) and then runs every value through
``/bin/sh`` (``system("tgtadm ... -b \"$path\" ... --password=$secret")``; its ``execute`` even
cuts the command at the first ``#``).  So every value written here must be a plain token: the
request checker (``_target_spec``) refuses the rest before anything changes.

A target without ``initiator-address`` gets ``ALL`` from tgt-admin, so the file of a target
restricted by name carries the never-matching address :data:`NO_ADDRESS`.
"""

from __future__ import annotations

import os
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._files import write_atomic
from ansible_collections.sanboot.lab.plugins.module_utils.target import _params

NO_ADDRESS = "255.255.255.255"   # limited broadcast: never the source of a TCP connection
MARKER = "# Managed by sanboot.lab.iscsi_target"


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
    if getattr(spec, "parameters", None):
        lines.append("    # data-path parameters (tgt-admin: tgtadm --op update --name KEY --value V)")
        lines += _params.conf_lines(spec.parameters)
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
    """Write (0600, atomically: ``_files.write_atomic``) or remove the files of
    :func:`persist_plan`."""
    for path, text in writes:
        if text is None:
            os.unlink(path)
            continue
        write_atomic(path, text, 0o600, parents=True)
