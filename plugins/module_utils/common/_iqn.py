# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iSCSI names (private): validation and normalisation after RFC 3720 section 3.2.6.

Three formats (RFC 3720 section 3.2.6.3, RFC 3980 for ``naa.``):

* ``iqn.yyyy-mm.<reversed domain>[:<unique id>]`` (section 3.2.6.3.1)
* ``eui.`` + 16 hex digits (section 3.2.6.3.2)
* ``naa.`` + 16 or 32 hex digits (RFC 3980)

A name is at most 223 bytes (section 3.2.6.1).  The characters allowed are those left by the
RFC 3722 stringprep profile; this collection accepts the ASCII subset: lower-case letters,
digits, ``-``, ``.`` and ``:``.  Upper case is folded to lower case (RFC 3722 maps it) with a
warning, because some initiator firmwares change the case of a name silently.  An ``iqn.`` name
dated in the current month gets a warning: some ESX releases ignore such targets silently.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError

MAX_BYTES = 223
_ALLOWED = re.compile(r"^[a-z0-9.:-]+$")
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = re.compile(r"^%s(?:\.%s)*$" % (_LABEL, _LABEL))
_IQN = re.compile(r"^iqn\.(\d{4})-(\d{2})\.([^:]+)(?::(.*))?$")
_HEX = re.compile(r"^[0-9a-f]+$")


class IQNError(RequestError):
    """An invalid iSCSI name; the message names the option (``option``) and the rule."""


def _today():
    return datetime.date.today()


def validate(name, what="name", today=None):
    """Check ``name``; return ``(normalised_name, warnings)`` or raise :class:`IQNError`.

    ``what`` names the option in messages (e.g. ``initiators[1]``).
    """
    if not isinstance(name, str) or not name:
        raise IQNError("%s: an iSCSI name must be a non-empty string (RFC 3720 section 3.2.6)" % what,
                       option=what)
    warnings = []
    norm = name.lower()
    if norm != name:
        warnings.append("%s: %r folded to lower case %r (RFC 3722 stringprep maps upper case; "
                        "some firmwares change the case of names silently, so write them in "
                        "lower case)" % (what, name, norm))
    bad = sorted(set(c for c in norm if not _ALLOWED.match(c)))
    if bad:
        raise IQNError("%s: %r contains %s; RFC 3722 (stringprep profile for iSCSI names) as "
                       "used here allows only a-z, 0-9, '-', '.' and ':'"
                       % (what, name, ", ".join(repr(c) for c in bad)), option=what)
    if len(norm.encode("utf-8")) > MAX_BYTES:
        raise IQNError("%s: %r is %d bytes; RFC 3720 section 3.2.6.1 allows at most %d"
                       % (what, name, len(norm.encode("utf-8")), MAX_BYTES), option=what)
    if norm.startswith("iqn."):
        warnings.extend(_check_iqn(norm, name, what, today or _today()))
    elif norm.startswith("eui."):
        if len(norm) != 20 or not _HEX.match(norm[4:]):
            raise IQNError("%s: %r: an eui. name is 'eui.' followed by exactly 16 hex digits "
                           "(RFC 3720 section 3.2.6.3.2)" % (what, name), option=what)
    elif norm.startswith("naa."):
        if len(norm) not in (20, 36) or not _HEX.match(norm[4:]):
            raise IQNError("%s: %r: an naa. name is 'naa.' followed by 16 or 32 hex digits "
                           "(RFC 3980)" % (what, name), option=what)
    else:
        raise IQNError("%s: %r must start with 'iqn.', 'eui.' or 'naa.' "
                       "(RFC 3720 section 3.2.6.3, RFC 3980)" % (what, name), option=what)
    return norm, warnings


def _check_iqn(norm, name, what, today):
    rule = "RFC 3720 section 3.2.6.3.1: iqn.yyyy-mm.<reversed domain>[:<unique id>]"
    if re.match(r"^iqn\.\d{4}\.\d{2}\.", norm):
        raise IQNError("%s: %r has a dot between year and month where RFC 3720 wants a dash "
                       "(write iqn.%s-%s...; %s)" % (what, name, norm[4:8], norm[9:11], rule), option=what)
    m = _IQN.match(norm)
    if not m:
        raise IQNError("%s: %r does not match %s" % (what, name, rule), option=what)
    year, month, domain, suffix = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
    if not 1 <= month <= 12:
        raise IQNError("%s: %r: month %02d is not 01-12 (%s)" % (what, name, month, rule), option=what)
    if not _DOMAIN.match(domain):
        raise IQNError("%s: %r: %r is not a reversed domain name (labels of a-z, 0-9 and '-', "
                       "not starting or ending with '-'; %s)" % (what, name, domain, rule), option=what)
    if suffix is not None and suffix == "":
        raise IQNError("%s: %r ends with ':' but has no unique id after it (%s)" % (what, name, rule),
                       option=what)
    if (year, month) == (today.year, today.month):
        return ["%s: %r is dated this month (%04d-%02d); some ESX releases silently ignore "
                "targets named with the current month: prefer an earlier date when the domain "
                "was already owned" % (what, name, year, month)]
    return []


def is_valid(name):
    """True when ``name`` is a valid iSCSI name (warnings do not count)."""
    try:
        validate(name)
    except IQNError:
        return False
    return True


def build_iqn(date, reversed_domain, suffix=None, today=None):
    """Build and validate ``iqn.<yyyy-mm>.<reversed_domain>[:<suffix>]``.

    ``date`` is ``"yyyy-mm"``, ``"yyyy-mm-dd"``, a ``datetime.date`` or a ``(year, month)``
    pair: the month in which the naming authority owned the domain.  Raises
    :class:`IQNError`; returns the normalised name (warnings are dropped, call
    :func:`validate` to see them).
    """
    if isinstance(date, (datetime.date, datetime.datetime)):
        ym = "%04d-%02d" % (date.year, date.month)
    elif isinstance(date, (tuple, list)) and len(date) == 2:
        ym = "%04d-%02d" % (int(date[0]), int(date[1]))
    else:
        m = re.match(r"^(\d{4})-(\d{2})(?:-\d{2})?$", str(date).strip())
        if not m:
            raise IQNError("date: %r is not yyyy-mm or yyyy-mm-dd (RFC 3720 section 3.2.6.3.1)"
                           % (date,), option="date")
        ym = "%s-%s" % m.groups()
    name = "iqn.%s.%s" % (ym, str(reversed_domain).strip().strip("."))
    if suffix not in (None, ""):
        name += ":" + str(suffix)
    return validate(name, what="iqn", today=today)[0]
