# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files of ``initramfs_iscsi``, rendered from a checked request (private, pure).

``/etc/iscsi/iscsi.initramfs`` is sourced by ``/bin/sh`` in the initramfs: every value is
``shlex.quote``d, and ``_initramfs.normalise`` has refused anything a one-line value cannot carry
(control characters, newlines) before it gets here.
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.sanboot.lab.plugins.module_utils.boot._multipath_root import stock_portals
from ansible_collections.sanboot.lab.plugins.module_utils.boot._scripts import prereqs

COMMENT = "# sanboot.lab: "
HEADER = "# Written by sanboot.lab (initramfs_iscsi). Changes here are overwritten.\n"
_STANZA = ("iface", "mapping", "auto", "source", "source-directory", "no-auto-down",
           "no-scripts", "rename")


def render_iscsi_conf(req, redact=False):
    """Content of ``/etc/iscsi/iscsi.initramfs`` (sourced by /bin/sh in the initramfs)."""
    lines = [HEADER.rstrip("\n"),
             "# Read by open-iscsi's initramfs hook (update-initramfs) and sourced by "
             "/scripts/local-top/iscsi."]
    if req.get("firmware"):
        lines.append("ISCSI_AUTO=true")
        return "\n".join(lines) + "\n"
    values = [("ISCSI_TARGET_NAME", req["target"]),
              ("ISCSI_TARGET_IP", " ".join(stock_portals(req))),
              ("ISCSI_TARGET_PORT", str(req.get("port", 3260)))]
    chap = req.get("chap") or {}
    for var, key, secret in (("ISCSI_USERNAME", "username", False),
                             ("ISCSI_PASSWORD", "password", True),
                             ("ISCSI_IN_USERNAME", "mutual_username", False),
                             ("ISCSI_IN_PASSWORD", "mutual_password", True)):
        if chap.get(key):
            values.append((var, "********" if secret and redact else chap[key]))
    lines.extend("%s=%s" % (k, shlex.quote(v)) for k, v in values)
    return "\n".join(lines) + "\n"


def render_initiator(before, name):
    """``initiatorname.iscsi`` with ``InitiatorName=name``; other lines are kept."""
    if before is None:
        return HEADER + "InitiatorName=%s\n" % name
    out, done = [], False
    for line in before.splitlines(True):
        if re.match(r"^\s*(InitiatorName|GenerateName)\s*=", line):
            if not done:
                out.append("InitiatorName=%s\n" % name)
                done = True
            continue
        out.append(line)
    if not done:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append("InitiatorName=%s\n" % name)
    return "".join(out)


def initiator_in(text):
    """The ``InitiatorName`` of an ``initiatorname.iscsi`` text, or None."""
    m = re.search(r"^\s*InitiatorName\s*=\s*(\S+)", text or "", re.M)
    return m.group(1) if m else None


SETTLE_TEMPLATE = """#!/bin/sh
# Written by sanboot.lab (initramfs_iscsi). Changes here are overwritten.
# Runs after open-iscsi's login (local-top/iscsi) and before the initramfs waits for root=:
# waits for udev and for the root device for at most %(delay)d seconds, then activates
# volume groups itself when the root device is still missing (lvm2 activates on udev events).
""" + prereqs("iscsi") + """
. /scripts/functions
delay=%(delay)d
udevadm settle --timeout="$delay" || true
case "$ROOT" in
iscsi:*|"") exit 0 ;;
esac
i=0
while [ "$i" -lt "$delay" ]; do
    if dev="$(resolve_device "$ROOT")" && [ -b "$dev" ]; then
        exit 0
    fi
    sleep 1
    i=$((i + 1))
done
if [ -x /sbin/lvm ]; then
    /sbin/lvm vgchange -aay --sysinit || true
    udevadm settle --timeout="$delay" || true
fi
exit 0
"""


def render_settle(delay):
    return SETTLE_TEMPLATE % {"delay": delay}


def comment_interface(text, iface):
    """Comment out ``iface``'s stanzas in an ifupdown ``interfaces`` text.

    ``iface``/``mapping`` stanzas of the interface (and its aliases ``IFACE:N``) with their
    option lines are commented; ``auto``/``allow-*``/``no-*`` lines lose the interface (the
    original line is commented and a line with the other interfaces follows).  Every other
    byte is kept.
    """
    out, inside = [], False
    for line in text.splitlines(True):
        words = line.split()
        first = words[0] if words else ""
        starts = first in _STANZA or first.startswith("allow-")
        if starts:
            inside = False
        mine = [w for w in words[1:] if w == iface or w.startswith(iface + ":")]
        if first in ("iface", "mapping") and len(words) > 1 and words[1] in mine:
            inside = True
            out.append(COMMENT + line)
        elif inside and words and not first.startswith("#"):
            out.append(COMMENT + line)
        elif starts and first not in ("iface", "mapping", "source", "source-directory") \
                and mine:
            out.append(COMMENT + line)
            rest = [w for w in words[1:] if w not in mine]
            if rest:
                indent = line[:len(line) - len(line.lstrip())]
                eol = line[len(line.rstrip("\r\n")):] or "\n"
                out.append("%s%s %s%s" % (indent, first, " ".join(rest), eol))
        else:
            out.append(line)
    return "".join(out)


def render_networkd(iface):
    return (HEADER + "# The kernel configured %s (ip=) in the initramfs and the root filesystem "
            "is on iSCSI\n# over it: systemd-networkd must leave it alone.\n"
            "[Match]\nName=%s\n\n[Link]\nUnmanaged=yes\n" % (iface, iface))


def render_wait_online(iface):
    """Drop-in for systemd-networkd-wait-online: the boot interface is Unmanaged (above), so it
    would wait its whole timeout (120 s) for a link networkd never configures, holding
    network-online.target and open-iscsi.service; the network was up before PID 1 started."""
    return (HEADER + "# %s was configured by the kernel (ip=) before / was mounted and is Unmanaged in\n"
            "# systemd-networkd (05-sanboot-%s.network): there is nothing to wait for.\n"
            "[Service]\nExecStart=\nExecStart=/bin/true\n" % (iface, iface))


def render_nm(iface):
    return (HEADER + "# The kernel configured %s (ip=) in the initramfs and the root filesystem "
            "is on iSCSI\n# over it: NetworkManager must leave it alone.\n"
            "[keyfile]\nunmanaged-devices+=interface-name:%s\n" % (iface, iface))


def redact_conf(text):
    """``text`` with the CHAP secrets replaced by ``********``."""
    if not text:
        return text
    return re.sub(r"^(ISCSI_(?:IN_)?PASSWORD=).*$", r"\1********", text, flags=re.M)
