# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CHAP credentials and iSCSI names in a request, checked the same way by every module (private).

RFC 3720 section 8.2.1: a CHAP secret has at least 96 bits (12 bytes), and the secrets of the
two directions of mutual CHAP differ.
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import validate

SECRET_MIN = 12   # RFC 3720 section 8.2.1: at least 96 bits
SECRET_MAX = 16   # longer secrets work with tgt and open-iscsi, not with every initiator (warning)
# RFC 3720 section 5.1: a text value (CHAP_N) has at most 255 bytes; open-iscsi and libiscsi
# keep secrets in 256-byte buffers
VALUE_MAX = 255
# Printable ASCII without blanks, quotes, '#', '<', '>' or backslash: the tgt/IET config files and
# the initramfs' shell-sourced iscsi.initramfs are whitespace-separated and quoted.
_TOKEN = re.compile(r"^[!$%&()*+,./0-9:;=?@A-Z\[\]^_a-z{|}~-]+$")
PAIRS = (("username", "password"), ("mutual_username", "mutual_password"))


def checked_name(value, what, warnings):
    """``_iqn.validate`` for request checkers: warnings appended; an invalid name raises
    ``_iqn.IQNError`` (a :class:`RequestError` whose ``option`` is ``what``)."""
    name, warns = validate(value, what=what)
    warnings.extend(warns)
    return name


def _refuse(what, key, text):
    raise RequestError("%s.%s: %s" % (what, key, text), option="%s.%s" % (what, key))


def normalise(chap, what="chap", warnings=None, tokens=True):
    """The CHAP options (username, password, mutual_username, mutual_password) as a dict of the
    pairs that are set, or None when none is; raises :class:`RequestError` naming the option
    (``what.key``) and the rule.
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
            _refuse(what, user if not u else pw, "%s and %s go together" % (user, pw))
        for key, val in ((user, u), (pw, p)):
            if any(ord(c) < 32 or ord(c) == 127 for c in val):
                _refuse(what, key, "must be one line without control characters")
            if len(val.encode("utf-8")) > VALUE_MAX:
                _refuse(what, key, "%d bytes; at most %d (RFC 3720 section 5.1: text values have "
                        "at most 255 bytes; initiators keep CHAP secrets in 256-byte buffers)"
                        % (len(val.encode("utf-8")), VALUE_MAX))
            if tokens and not _TOKEN.match(val):
                _refuse(what, key, "use printable ASCII without blanks, quotes, '#', '<', '>' or "
                        "backslash (config files are whitespace-separated)")
        if len(p.encode("utf-8")) < SECRET_MIN:
            _refuse(what, pw, "a CHAP secret of %d characters; it must have at least %d characters "
                    "(RFC 3720 section 8.2.1: at least 96 bits)" % (len(p), SECRET_MIN))
        if len(p) > SECRET_MAX:
            warnings.append("%s.%s: CHAP secrets longer than %d characters are refused by some "
                            "initiators (e.g. Microsoft's)" % (what, pw, SECRET_MAX))
        out[user], out[pw] = u, p
    if "mutual_username" in out and "username" not in out:
        _refuse(what, "mutual_username", "mutual CHAP needs username and password as well (the "
                "one-way pair; RFC 3720 section 8.2.1)")
    if out.get("mutual_password") and out["mutual_password"] == out.get("password"):
        _refuse(what, "mutual_password", "must differ from password: RFC 3720 section 8.2.1 "
                "forbids the same CHAP secret in both directions")
    return out
