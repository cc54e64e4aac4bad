# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CHAP credentials and iSCSI names in a request, checked the same way by every module (private).

RFC 3720 section 8.2.1: a CHAP secret has at least 96 bits (12 bytes), and the secrets of the
two directions of mutual CHAP differ.
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import IQNError, validate

SECRET_MIN = 12   # RFC 3720 section 8.2.1: at least 96 bits
SECRET_MAX = 16   # longer secrets work with tgt and open-iscsi, not with every initiator (warning)
# RFC 3720 section 5.1: a text value (CHAP_N) has at most 255 bytes; open-iscsi and libiscsi
# keep secrets in 256-byte buffers
VALUE_MAX = 255
# Printable ASCII without blanks, quotes, '#', '<', '>' or backslash: the tgt/IET config files and
# the initramfs' shell-sourced iscsi.initramfs are whitespace-separated and quoted.
_TOKEN = re.compile(r"^[!$%&()*+,./0-9:;=?@A-Z\[\]^_a-z{|}~-]+$")
PAIRS = (("username", "password"), ("mutual_username", "mutual_password"))


def checked_name(value, what, warnings, error=ValueError):
    """``_iqn.validate`` for request checkers: warnings appended, ``error`` raised when invalid."""
    try:
        name, warns = validate(value, what=what)
    except IQNError as e:
        raise error(str(e))
    warnings.extend(warns)
    return name


def normalise(chap, what="chap", warnings=None, error=ValueError, tokens=True):
    """The CHAP options (username, password, mutual_username, mutual_password) as a dict of the
    pairs that are set, or None when none is; raises ``error`` naming the option and the rule.
    With ``tokens`` names and secrets must be blank-free printable ASCII (whitespace-separated
    config files); without it any one-line value is accepted (the caller quotes it)."""
    warnings = [] if warnings is None else warnings
    if not chap or not any(chap.get(k) for pair in PAIRS for k in pair):
        return None
    out = {}
    for user, pw in PAIRS:
        u, p = chap.get(user), chap.get(pw)
        if not u and not p:
            continue
        if not u or not p:
            raise error("%s.%s: %s and %s go together" % (what, user if not u else pw, user, pw))
        for key, val in ((user, u), (pw, p)):
            if any(ord(c) < 32 or ord(c) == 127 for c in val):
                raise error("%s.%s: must be one line without control characters" % (what, key))
            if len(val.encode("utf-8")) > VALUE_MAX:
                raise error("%s.%s: %d bytes; at most %d (RFC 3720 section 5.1: text values have "
                            "at most 255 bytes; initiators keep CHAP secrets in 256-byte buffers)"
                            % (what, key, len(val.encode("utf-8")), VALUE_MAX))
            if tokens and not _TOKEN.match(val):
                raise error("%s.%s: use printable ASCII without blanks, quotes, '#', '<', '>' or "
                            "backslash (config files are whitespace-separated)" % (what, key))
        if len(p.encode("utf-8")) < SECRET_MIN:
            raise error("%s.%s: a CHAP secret of %d characters; it must have at least %d characters "
                        "(RFC 3720 section 8.2.1: at least 96 bits)" % (what, pw, len(p), SECRET_MIN))
        if len(p) > SECRET_MAX:
            warnings.append("%s.%s: CHAP secrets longer than %d characters are refused by some "
                            "initiators (e.g. Microsoft's)" % (what, pw, SECRET_MAX))
        out[user], out[pw] = u, p
    if "mutual_username" in out and "username" not in out:
        raise error("%s.mutual_username: mutual CHAP needs username and password as well (the "
                    "one-way pair; RFC 3720 section 8.2.1)" % what)
    if out.get("mutual_password") and out["mutual_password"] == out.get("password"):
        raise error("%s.mutual_password: must differ from password: RFC 3720 section 8.2.1 "
                    "forbids the same CHAP secret in both directions" % what)
    return out
