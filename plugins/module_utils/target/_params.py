# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_target's data-path parameters (private): check, read, plan, persist.

The keys are spelled as RFC 7143 and tgtadm spell them.  tgt 1.0.85 (measured):

* ``tgtadm --lld iscsi --op show --mode target --tid N`` prints the target's session parameters
  as ``Key=Value`` lines (``--op show --mode target`` without ``--tid`` prints none of them);
* ``tgtadm --lld iscsi --op update --mode target --tid N --name KEY --value V`` sets one; tgtd
  refuses lengths outside 512..16777215, MaxOutstandingR2T outside 1..65535 and any Yes/No
  value but ``Yes`` and ``No`` (rc 22), but accepts FirstBurstLength > MaxBurstLength;
* tgt-admin reads them as ``KEY VALUE`` lines of a ``<target>`` block (``tgt-admin --dump``
  does not print them).

A value applies to the sessions that log in afterwards; existing sessions keep what they
negotiated.  Only the keys a request sets are read, planned and persisted (unset: untouched).
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError, RequestError

LENGTH_MIN, LENGTH_MAX = 512, 16777215      # 2**24 - 1
# key: (kind, minimum, maximum, where the rule comes from)
RULES = {
    "MaxRecvDataSegmentLength": ("int", LENGTH_MIN, LENGTH_MAX, "RFC 7143 section 13.12"),
    "MaxXmitDataSegmentLength": ("int", LENGTH_MIN, LENGTH_MAX,
                                 "tgt's limit on the data it sends, bounds of RFC 7143 section 13.12"),
    "FirstBurstLength": ("int", LENGTH_MIN, LENGTH_MAX, "RFC 7143 section 13.14"),
    "MaxBurstLength": ("int", LENGTH_MIN, LENGTH_MAX, "RFC 7143 section 13.13"),
    "MaxOutstandingR2T": ("int", 1, 65535, "RFC 7143 section 13.17"),
    "ImmediateData": ("bool", None, None, "RFC 7143 section 13.11"),
    "InitialR2T": ("bool", None, None, "RFC 7143 section 13.10"),
}
KEYS = ("MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "FirstBurstLength",
        "MaxBurstLength", "MaxOutstandingR2T", "ImmediateData", "InitialR2T")
# What a new target of tgt 1.0.85 starts with (tgtadm --op show --mode target --tid N)
TGT_DEFAULTS = dict(MaxRecvDataSegmentLength=8192, MaxXmitDataSegmentLength=8192,
                    FirstBurstLength=65536, MaxBurstLength=262144, MaxOutstandingR2T=1,
                    ImmediateData=True, InitialR2T=True)
_LINE = re.compile(r"^([A-Za-z0-9_]+)=(.*)$")


def _err(what, msg):
    raise RequestError("%s: %s" % (what, msg), option=what)


def _value(key, value, what):
    kind, low, high, source = RULES[key]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
            return value.lower() in ("yes", "true")
        _err(what, "%r is not a boolean (true/false; tgtadm's Yes/No), %s" % (value, source))
    if isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        _err(what, "%r is not an integer (%s)" % (value, "a count" if low == 1 else "bytes"))
    if not low <= value <= high:
        _err(what, "%d is out of range: %s is %d to %d%s (%s)" % (
            value, key, low, high, "" if low == 1 else " bytes", source))
    return value


def check_bursts(values, what, current=None):
    """FirstBurstLength <= MaxBurstLength (RFC 7143 section 13.14), where a key not in
    ``values`` has its ``current`` value (tgtd's); RequestError/PlanError naming ``what``."""
    merged = dict(current or {}, **values)
    first, most = merged.get("FirstBurstLength"), merged.get("MaxBurstLength")
    if first is None or most is None or first <= most:
        return
    told = [k for k in ("FirstBurstLength", "MaxBurstLength") if k in values]
    msg = ("FirstBurstLength %d exceeds MaxBurstLength %d%s; it must not (RFC 7143 section "
           "13.14)" % (first, most, "" if len(told) == 2 else " (the target's current %s)"
                       % ("MaxBurstLength" if told == ["FirstBurstLength"] else "FirstBurstLength")))
    if current is None:
        _err(what, msg)
    raise PlanError("%s: %s" % (what, msg), option="parameters")


def normalise(params, what="parameters"):
    """``{key: int or bool}`` of the keys set in ``params`` (None values are unset); RequestError
    naming ``what.KEY`` and the rule's source when a key or value is bad."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        _err(what, "%r is not a dictionary of %s" % (params, ", ".join(KEYS)))
    out = {}
    for key in sorted(params):
        if params[key] is None:
            continue
        if key not in RULES:
            like = [k for k in KEYS if k.lower() == str(key).lower()]
            _err("%s.%s" % (what, key), "unknown parameter%s; the keys are %s" % (
                " (did you mean %s?)" % like[0] if like else "", ", ".join(KEYS)))
        out[key] = _value(key, params[key], "%s.%s" % (what, key))
    check_bursts(out, what)
    return out


def tgt_value(value):
    """tgtadm's spelling of a value: ``Yes``/``No`` for booleans, decimal for numbers."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def parse(text):
    """``{key: int or bool}`` of the keys of :data:`KEYS` in the output of ``tgtadm --op show
    --mode target --tid N`` (tgt 1.0.85: ``Key=Value`` lines); other keys are left out."""
    out = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m or m.group(1) not in RULES:
            continue
        key, val = m.group(1), m.group(2).strip()
        if RULES[key][0] == "bool":
            out[key] = val == "Yes"
        elif val.isdigit():
            out[key] = int(val)
    return out


def plan(wanted, current):
    """``[(key, old, new)]`` for the keys of ``wanted`` that differ from ``current`` (``{}`` or
    None for a new target: every wanted key is set).  Ordered so that FirstBurstLength <=
    MaxBurstLength holds after every step when it holds before and after."""
    current = current or {}
    steps = [(k, current.get(k), wanted[k]) for k in KEYS
             if k in wanted and current.get(k) != wanted[k]]
    grow = wanted.get("MaxBurstLength", 0) >= current.get("MaxBurstLength", 0)
    first = "MaxBurstLength" if grow else "FirstBurstLength"
    return sorted(steps, key=lambda s: 0 if s[0] == first else 1)


def update_args(tid, key, value):
    return ["--op", "update", "--mode", "target", "--tid", str(tid), "--name", key,
            "--value", tgt_value(value)]


def conf_lines(params, indent="    "):
    """The ``KEY VALUE`` lines of a tgt-admin ``<target>`` block (in :data:`KEYS` order)."""
    return ["%s%s %s" % (indent, k, tgt_value(params[k])) for k in KEYS if k in (params or {})]


def read(runner, base, tid):
    """The parameters of target ``tid`` (``base``: tgtadm argv up to ``--lld iscsi``)."""
    return parse(runner(base + ["--op", "show", "--mode", "target", "--tid", str(tid)])[1])
