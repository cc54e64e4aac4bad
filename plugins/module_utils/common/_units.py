# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes (private): ``parse_size("512MiB") == 536870912``.

An int (or a string of digits) is bytes.  Suffixes ``K M G T P`` with or without ``iB`` are
binary (1024-based, as qemu-img and truncate read them); ``KB MB GB TB PB`` are decimal (SI).
Case is ignored except that a lone ``b`` is bytes.  Fractions are allowed (``1.5G``) and rounded
down to whole bytes.
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError

_POW = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(I?B?)\s*$", re.IGNORECASE)


def parse_size(value, what="size"):
    """Bytes of ``value``; raise RequestError (a ValueError) naming ``what`` when it cannot be
    read."""
    if isinstance(value, bool):
        raise RequestError("%s: %r is not a size" % (what, value), option=what)
    if isinstance(value, int):
        if value < 0:
            raise RequestError("%s: %r is negative" % (what, value), option=what)
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise RequestError("%s: %r is not a size (bytes, or a number with K/M/G/T/P[iB] "
                           "(1024-based) or KB/MB/GB/TB/PB (1000-based))" % (what, value), option=what)
    number, prefix, tail = m.group(1), m.group(2).upper(), m.group(3).upper()
    base = 1000 if tail == "B" and prefix else 1024
    if tail == "I":
        raise RequestError("%s: %r: write %siB" % (what, value, prefix), option=what)
    return int(float(number) * base ** _POW[prefix])


def format_size(num):
    """Short binary form of ``num`` bytes (``536870912`` -> ``"512MiB"``) for messages."""
    for unit, power in (("PiB", 5), ("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
        if num and num % (1024 ** power) == 0:
            return "%d%s" % (num // 1024 ** power, unit)
    return "%dB" % num
