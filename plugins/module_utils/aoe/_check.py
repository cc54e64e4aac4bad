# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``aoe_probe``, checked before any frame is sent (private).

Every refusal names the option: shelf/slot addresses (the broadcast shelf 0xffff and slot 0xff
address every target: a write there would reach them all), the interface (a loopback one never
reaches a target), the target MAC (unicast only), sector ranges, timing bounds, the data.
"""

from __future__ import annotations

import binascii

from ansible_collections.sanboot.lab.plugins.module_utils.common import _netif
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.aoe._protocol import SECTOR_SIZE, mac_to_bytes, mac_to_str

MAX_READ = 2048
MAX_WRITE = 2048
MAX_TIMEOUT = 300.0
MAX_RETRIES = 100


def unicast_problem(raw):
    """Why 6 bytes cannot be a target's MAC (None when they can)."""
    if raw == b"\0" * 6:
        return "the all-zero MAC address"
    if raw == b"\xff" * 6:
        return "the broadcast MAC address"
    if bytearray(raw)[0] & 1:
        return "a multicast MAC address (the group bit of its first octet is set)"
    return None


def check_probe(params, interface_problem=_netif.problem):
    """``(write data padded to whole sectors or None, target MAC or None)``; RequestError (a
    ValueError) naming the option otherwise."""
    if not 0 <= params["shelf"] <= 65534:
        raise RequestError("shelf=%d is out of range 0-65534 (0xffff is broadcast)" % params["shelf"], option="shelf")
    if not 0 <= params["slot"] <= 254:
        raise RequestError("slot=%d is out of range 0-254 (0xff is broadcast)" % params["slot"], option="slot")
    problem = interface_problem(params["interface"], "interface")
    if problem:
        raise RequestError(problem, option="interface")
    mac = None
    if params.get("mac") is not None:
        try:
            raw = mac_to_bytes(str(params["mac"]).strip().lower())
        except ValueError:
            raise RequestError("mac: %r is not a MAC address (6 bytes in hex)" % (params["mac"],), option="mac")
        problem = unicast_problem(raw)
        if problem:
            raise RequestError("mac: %r is %s, not one target" % (params["mac"], problem), option="mac")
        mac = mac_to_str(raw)
    if not 1 <= params["read_count"] <= MAX_READ:
        raise RequestError("read_count=%d must be 1-%d sectors" % (params["read_count"], MAX_READ), option="read_count")
    for key in ("read_lba", "write_lba"):
        if params[key] is not None and not 0 <= params[key] < (1 << 48):
            raise RequestError("%s=%d must be 0 or more (and below 2**48)" % (key, params[key]), option=key)
    if not 0 < params["timeout"] <= MAX_TIMEOUT:
        raise RequestError("timeout=%s must be more than 0 and at most %d seconds"
                           % (params["timeout"], MAX_TIMEOUT), option="timeout")
    if not 0 <= params["retries"] <= MAX_RETRIES:
        raise RequestError("retries=%d must be 0-%d" % (params["retries"], MAX_RETRIES), option="retries")
    data = None
    if params["write_data"] is not None:
        try:
            data = binascii.unhexlify("".join(params["write_data"].split()))
        except (binascii.Error, TypeError, ValueError):
            raise RequestError("write_data must be hex digits (an even number of them)", option="write_data")
        if not data:
            raise RequestError("write_data is empty", option="write_data")
        data += b"\0" * (-len(data) % SECTOR_SIZE)
        if len(data) // SECTOR_SIZE > MAX_WRITE:
            raise RequestError("write_data: %d sectors, at most %d" % (len(data) // SECTOR_SIZE, MAX_WRITE), option="write_data")
    return data, mac


def pick_target(targets, mac, writing):
    """The target to talk to among the Query Config replies; RequestError naming ``mac`` when a
    write would have to guess between several targets that answer for the same shelf/slot."""
    if mac is not None:
        targets = [t for t in targets if t["src"] == mac]
    if not targets:
        return None
    if writing and len(set(t["src"] for t in targets)) > 1:
        raise RequestError("mac: %d targets answer for this shelf/slot (%s); name the one to write "
                           "to" % (len(targets), ", ".join(t["src"] for t in targets)), option="mac")
    return targets[0]
