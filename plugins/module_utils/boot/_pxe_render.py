# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pxe_server writes (private, pure): the dnsmasq configuration, per-host iPXE scripts and
pxelinux configurations, from a validated :class:`_pxe.Request`.

Boot file by client (no chainload loop): a PXE ROM (no DHCP option 175, no user class ``iPXE``)
of a host booting through iPXE gets ``undionly.kpxe``; iPXE itself -- loaded that way, or a NIC
ROM that is iPXE (QEMU's) -- sends option 175 and user class ``iPXE`` (dnsmasq ``dhcp-match``
and ``dhcp-userclass`` set tag ``ipxe``) and gets its host's script, never the loader again.
A host booting a kernel through pxelinux gets ``pxelinux.0``, which reads
``pxelinux.cfg/<uuid>`` then ``pxelinux.cfg/01-<mac with dashes>`` (both written here).

iPXE resolves a relative path against the script's own URI (``tftp://server/ipxe/``), so kernel
and initrd are written with a leading ``/`` (iPXE sends the TFTP path without it).
"""

from __future__ import annotations

import re

HEADER = "Managed by sanboot.lab.pxe_server: changes here are overwritten"
IPXE_DIR, PXELINUX_DIR = "ipxe", "pxelinux.cfg"
SECRET_MODE, PUBLIC_MODE = 0o600, 0o644
REDACTED = "********"
_SECRET_SETTING = re.compile(r"^(set (?:reverse-)?password) .*$", re.M)


class Rendered(object):
    """One file below the TFTP root: ``rel``, ``text``, ``mode``; ``secret`` when it holds CHAP
    secrets (mode 0600, redacted in diffs)."""

    def __init__(self, rel, text, mode=PUBLIC_MODE, secret=False, what=None):
        self.rel, self.text, self.mode, self.secret, self.what = rel, text, mode, secret, what

    def __repr__(self):
        return "Rendered(%r, mode=%o)" % (self.rel, self.mode)


def ipxe_script_rel(host):
    return "%s/%s.ipxe" % (IPXE_DIR, host["hostname"].lower())


def pxelinux_rels(host):
    rels = ["%s/01-%s" % (PXELINUX_DIR, host["mac"].replace(":", "-"))]
    if host["uuid"]:
        rels.insert(0, "%s/%s" % (PXELINUX_DIR, host["uuid"]))
    return rels


def path_of(entry):
    """``pxelinux`` (kernel through pxelinux.0) or ``ipxe`` (every other entry)."""
    return "pxelinux" if entry["type"] == "kernel" and entry["loader"] == "pxelinux" else "ipxe"


def root_path(entry):
    """RFC 4173 ``iscsi:<servername>:<protocol>:<port>:<LUN>:<targetname>``; protocol 6 (TCP);
    the LUN in hexadecimal (RFC 4173 section 5, SAM LUN format: single-level LUNs 0-255)."""
    return "iscsi:%s:6:%d:%x:%s" % (entry["portal"], entry["port"], entry["lun"], entry["target"])


def render_ipxe(host, entry):
    """The iPXE script of ``host`` booting ``entry``: a :class:`Rendered`."""
    lines = ["#!ipxe", "# %s." % HEADER,
             "# %s (%s) boots %s (%s)." % (host["hostname"], host["mac"], entry["name"], entry["type"])]
    secret = False
    if entry["type"] == "ipxe_sanboot_iscsi":
        lines.append("# CHAP credentials are iPXE settings, never part of the URI; iPXE describes "
                     "the session to the OS in the iBFT.")
        lines.append("set initiator-iqn %s" % entry["initiator"])
        chap = entry["chap"]
        for key, setting in (("username", "username"), ("password", "password"),
                             ("mutual_username", "reverse-username"), ("mutual_password", "reverse-password")):
            if chap.get(key):
                lines.append("set %s %s" % (setting, chap[key]))
        secret = bool(chap)
        lines.append("sanboot %s" % root_path(entry))
    elif entry["type"] == "ipxe_sanboot_aoe":
        lines.append("sanboot aoe:e%d.%d" % (entry["shelf"], entry["slot"]))
    else:
        lines.append(("kernel /%s %s" % (entry["kernel"], entry["cmdline"])).rstrip())
        lines.extend("initrd /%s" % p for p in entry["initrd"])
        lines.append("boot")
    return Rendered(ipxe_script_rel(host), "\n".join(lines) + "\n",
                    SECRET_MODE if secret else PUBLIC_MODE, secret, entry["what"])


def render_pxelinux(host, entry):
    """The pxelinux configuration of ``host`` booting a kernel ``entry`` (one text, written per
    UUID and per MAC)."""
    lines = ["# %s." % HEADER,
             "# %s (%s) boots %s (kernel)." % (host["hostname"], host["mac"], entry["name"]),
             "DEFAULT sanboot", "PROMPT 0", "TIMEOUT 0", "LABEL sanboot",
             "  KERNEL %s" % entry["kernel"]]
    if entry["initrd"]:
        lines.append("  INITRD %s" % ",".join(entry["initrd"]))
    if entry["cmdline"]:
        lines.append("  APPEND %s" % entry["cmdline"])
    return "\n".join(lines) + "\n"


def tftp_files(req):
    """Every per-host file of the TFTP tree: a list of :class:`Rendered`, sorted by path."""
    out = []
    for host in req.hosts:
        if not host["boot"]:
            continue
        entry = req.entries[host["boot"]]
        if path_of(entry) == "ipxe":
            out.append(render_ipxe(host, entry))
        else:
            text = render_pxelinux(host, entry)
            out.extend(Rendered(rel, text, what=entry["what"]) for rel in pxelinux_rels(host))
    return sorted(out, key=lambda r: r.rel)


def render_dnsmasq(req):
    """The dnsmasq configuration file (``dnsmasq --test`` checks it before it is used)."""
    lines = ["# %s." % HEADER,
             "# DHCP and TFTP for network boot, served only on %s (allowed: %s)." % (
                 ", ".join(sorted(set(n["interface"] for n in req.networks))),
                 ", ".join(str(a) for a in req.allowed))]
    if not req.dns:
        lines.append("port=0")
    lines.append("bind-dynamic")
    for iface in sorted(set(n["interface"] for n in req.networks)):
        lines.append("interface=%s" % iface)
    for n in req.networks:
        mask = n["cidr"].netmask
        if n["start"]:
            lines.append("dhcp-range=set:%s,%s,%s,%s,%s" % (n["tag"], n["start"], n["end"], mask, n["lease_time"]))
        else:
            lines.append("dhcp-range=set:%s,%s,static,%s,%s" % (n["tag"], n["cidr"].network_address, mask, n["lease_time"]))
        # without a router option dnsmasq offers itself as the default gateway
        lines.append("dhcp-option=tag:%s,option:router%s" % (n["tag"], ",%s" % n["router"] if n["router"] else ""))
    for h in req.hosts:
        lines.append("dhcp-host=%s,set:%s,%s,%s,%s" % (h["mac"], h["tag"], h["ip"], h["hostname"], h["net"]["lease_time"]))
    lines += ["dhcp-match=set:ipxe,175", "dhcp-userclass=set:ipxe,iPXE"]
    for h in req.hosts:
        if not h["boot"]:
            continue
        entry = req.entries[h["boot"]]
        if path_of(entry) == "pxelinux":
            lines.append("dhcp-boot=tag:%s,%s" % (h["tag"], req.pxelinux_bootfile))
        else:
            lines.append("dhcp-boot=tag:%s,tag:!ipxe,%s" % (h["tag"], req.ipxe_bootfile))
            lines.append("dhcp-boot=tag:%s,tag:ipxe,%s" % (h["tag"], ipxe_script_rel(h)))
    lines += ["enable-tftp", "tftp-root=%s" % req.tftp_root,
              "# serve only files owned by the user dnsmasq runs as (%s)" % req.tftp_user, "tftp-secure"]
    if req.log_dhcp:
        lines.append("log-dhcp")
    return "\n".join(lines) + "\n"


def loaders_needed(req):
    """``{file below the TFTP root: why}`` for the boot loaders the hosts need."""
    need = {}
    for h in req.hosts:
        if h["boot"]:
            entry = req.entries[h["boot"]]
            if path_of(entry) == "pxelinux":
                need[req.pxelinux_bootfile] = "%s (%s) boots through pxelinux" % (h["what"], h["hostname"])
                need["ldlinux.c32"] = need[req.pxelinux_bootfile]
            else:
                need[req.ipxe_bootfile] = "%s (%s) boots through iPXE (chainloaded by a PXE ROM)" % (h["what"], h["hostname"])
    return need


def redact(text, secrets):
    """``text`` with every secret replaced (for diffs and messages): the given ``secrets`` and any
    value of an iPXE ``set password``/``set reverse-password`` line (an earlier, unknown secret)."""
    if text is None:
        return None
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return _SECRET_SETTING.sub(r"\1 " + REDACTED, text)


def secret_problem(rendered, secrets):
    """Why a rendered file would expose a secret (a secret in a file readable by group or others,
    TFTP serves every file to anyone anyway); None when none does."""
    for r in rendered:
        if r.mode & 0o077 and any(s in r.text for s in secrets):
            return ("%s: a CHAP secret would be written to %s (mode %04o, readable by others): refused"
                    % (r.what or r.rel, r.rel, r.mode))
    return None
