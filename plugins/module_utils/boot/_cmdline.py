# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel command line of ``initramfs_iscsi`` (private): ``ip=``, ``root=``, ``clocksource=``.

Each parameter is one word of ``/proc/cmdline``: no blanks, quotes, backslashes, shell or control
characters (a value such as ``LABEL=x init=/bin/sh`` would add a parameter).  ``ip=`` follows the
kernel's nfsroot.rst form ``ADDR::GW:MASK:HOST:IFACE:AUTOCONF``.  No secret ever goes here.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError

IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}\Z")
# what a kernel command line word, a shell-sourced value and a systemd/ifupdown line can carry
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"^[^\s\"'\\`$;&|<>()*?\[\]{}#~\x00-\x1f\x7f]+\Z")
_AUTOCONF = ("", "off", "none", "on", "any", "dhcp", "bootp", "rarp", "both")


def ip_address(value, what):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise RequestError("%s: %r is not an IP address" % (what, value), option=what.partition(" ")[0])


def one_line(value, what):
    """Refuse control characters (newlines included) in a string option."""
    if isinstance(value, str) and _CONTROL.search(value):
        raise RequestError("%s: %r contains a control character or a line break; the rendered "
                           "files and the kernel command line cannot carry it" % (what, value), option=what)
    return value


def word(value, what, rule):
    """A kernel command line word: no blanks, quotes, shell or control characters."""
    one_line(value, what)
    if not _WORD.match(value):
        raise RequestError("%s: %r is not %s (no blanks, quotes, backslashes or shell "
                           "characters: it becomes one word of the kernel command line)"
                           % (what, value, rule), option=what)
    return value


def ip_param(ip, iface):
    """The ``ip=`` kernel parameter (Documentation/admin-guide/nfs/nfsroot.rst) or None."""
    dev = iface or ""
    if ip is None:
        return None
    if isinstance(ip, dict):
        unknown = set(ip) - {"address", "prefix", "gateway", "hostname"}
        if unknown:
            raise RequestError("ip: unknown keys %s (address, prefix, gateway, hostname)"
                               % ", ".join(sorted(unknown)), option="ip")
        if not ip.get("address"):
            raise RequestError("ip.address is required when ip is a dict", option="ip.address")
        addr = str(ip["address"])
        prefix = ip.get("prefix")
        if "/" in addr:
            addr, prefix = addr.split("/", 1)
        if prefix in (None, ""):
            raise RequestError("ip.prefix (or address ADDR/PREFIX) is required", option="ip.prefix")
        try:
            net = ipaddress.ip_interface("%s/%s" % (ip_address(addr, "ip.address"), prefix))
        except ValueError:
            raise RequestError("ip.prefix: %r is not a prefix length" % (prefix,), option="ip.prefix")
        if net.version != 4:
            raise RequestError("ip.address: the kernel's ip= parameter is IPv4 only", option="ip.address")
        gw = ip.get("gateway") or ""
        if gw and ip_address(gw, "ip.gateway") not in net.network:
            raise RequestError("ip.gateway: %s is not in %s" % (gw, net.network), option="ip.gateway")
        host = str(ip.get("hostname") or "")
        if host and (":" in host or not _WORD.match(host)):
            raise RequestError("ip.hostname: %r may not contain ':', blanks, quotes, shell or "
                               "control characters" % host, option="ip.hostname")
        return "ip=%s::%s:%s:%s:%s:off" % (net.ip, gw, net.network.netmask, host, dev)
    ip = str(ip)
    if ip:
        word(ip, "ip", "the kernel form ADDR::GW:MASK:HOST:IFACE:off or dhcp")
    if ip == "dhcp":
        return "ip=:::::%s:dhcp" % dev if dev else "ip=dhcp"
    if ip in _AUTOCONF:
        return "ip=%s" % ip
    fields = ip[3:].split(":") if ip.startswith("ip=") else ip.split(":")
    if len(fields) < 7:
        raise RequestError("ip: %r is neither 'dhcp', a dict, nor the kernel form "
                           "ADDR::GW:MASK:HOST:IFACE:off (7 fields separated by ':')" % ip, option="ip")
    for idx, what in ((0, "client address"), (1, "server address"), (2, "gateway"),
                      (3, "netmask")):
        if fields[idx]:
            ip_address(fields[idx], "ip (%s field)" % what)
    if fields[6] not in _AUTOCONF:
        raise RequestError("ip: autoconf field %r is not one of %s" % (fields[6], ", ".join(
            a for a in _AUTOCONF if a)), option="ip")
    if fields[5] and not IFNAME.match(fields[5]):
        raise RequestError("ip: device field %r is not an interface name" % fields[5], option="ip")
    if iface and fields[5] and fields[5] != iface:
        raise RequestError("ip: device field %r differs from boot_interface %r"
                           % (fields[5], iface), option="ip")
    return "ip=" + ":".join(fields)


def root_param(dev, req, firmware):
    if dev:
        word(dev, "root_device", "/dev/..., LABEL=, UUID=, PARTUUID=, PARTLABEL= or iscsi:...")
        if not re.match(r"^(/dev/\S+|(LABEL|UUID|PARTUUID|PARTLABEL)=\S+|iscsi:\S+)\Z", dev):
            raise RequestError("root_device: %r is not /dev/..., LABEL=, UUID=, PARTUUID=, "
                               "PARTLABEL= or iscsi:..." % dev, option="root_device")
        return "root=" + dev
    if firmware or len(req["portals"]) != 1 or ":" in req["portals"][0]:
        raise RequestError("root_device: required with firmware=true, several portals or an "
                           "IPv6 portal (the default root=iscsi:ADDR::PORT:LUN:TARGET names one "
                           "IPv4 portal)", option="root_device")
    return "root=iscsi:%s::%d:%d:%s" % (req["portals"][0], int(req.get("port", 3260)),
                                        int(req.get("lun", 1)), req["target"])


def kernel_cmdline(req):
    """The parameters the boot loader or hypervisor must pass (no secrets)."""
    out = [p for p in (req.get("ip_param"), req.get("root_param")) if p]
    if req.get("clocksource"):
        out.append("clocksource=%s" % req["clocksource"])
    return out
