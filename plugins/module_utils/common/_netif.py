# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network interfaces as options (private, common layer): name, existence, loopback.

The flags come from ``SIOCGIFFLAGS`` on a socket of the caller's network namespace (what
``/sys/class/net/NAME/flags`` shows only when sysfs was mounted in that namespace), so a check
inside ``ip netns exec`` sees that namespace's links.  Layer-2 protocols such as AoE make no
sense on a loopback interface (``IFF_LOOPBACK``): frames never leave the host.
"""

from __future__ import annotations

import errno
import fcntl
import re
import socket
import struct

IFF_LOOPBACK = 0x8
SIOCGIFFLAGS = 0x8913
# the kernel's dev_valid_name(): 1-15 bytes, no '/', ':' or whitespace, not '.' or '..'; and no
# leading '-' (it would reach a command line as an option)
_NAME = re.compile(r"^[^\s/:\x00-\x1f\x7f]{1,15}\Z")


def name_problem(name):
    """Why ``name`` is not a valid interface name (None when it is)."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", "..") \
            or name.startswith("-") or len(name.encode("utf-8")) > 15:
        return ("%r is not a network interface name (1-15 characters, no whitespace, control "
                "characters, '/' or ':', not starting with '-')" % (name,))
    return None


def flags(name):
    """The interface flags of ``name`` in this network namespace, None when it does not exist."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = struct.pack("16sh14x", name.encode("utf-8"), 0)
        try:
            out = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, ifreq)
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                return None
            raise
        return struct.unpack("16sh14x", out)[1] & 0xFFFF
    finally:
        sock.close()


def problem(name, what="interface", must_exist=True):
    """Why ``name`` cannot carry a layer-2 protocol, as an error naming ``what``; None when fine.

    Refused: a malformed name, a missing interface (when ``must_exist``), a loopback one."""
    bad = name_problem(name)
    if bad:
        return "%s: %s" % (what, bad)
    found = flags(name)
    if found is None:
        if must_exist:
            return "%s: %s does not exist in this network namespace" % (what, name)
        return None
    if found & IFF_LOOPBACK:
        return ("%s: %s is a loopback interface (IFF_LOOPBACK): Ethernet frames sent there never "
                "reach another host" % (what, name))
    return None
