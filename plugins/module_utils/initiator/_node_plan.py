# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""open-iscsi node records of ``iscsi_initiator`` (private): the request, checked and normalised
before anything runs, and the pure plan from the current records and sessions to the steps.

A request names exact (target, portal, interface) tuples: every step of the plan is for one of
them, and every iscsiadm call carries ``-T``, ``-p`` and ``-I`` (community.general.open_iscsi
passes no ``--portal`` to a login, so one portal logs in to every portal of the target).
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common import _chap
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError

DEFAULT_PORT = 3260          # RFC 3720 section 13 (well-known iSCSI port); RFC 7143 section 13.2
MASK = "********"            # what iscsiadm prints for a secret without -S
STATES = ("logged_in", "present", "logged_out", "absent")
# iface record names are file names under /etc/iscsi/ifaces (iscsiadm(8) "-I iface_name")
_IFACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$")
_KEY = re.compile(r"^node\.[A-Za-z0-9_]+(?:\[[0-9]+\])?(?:\.[A-Za-z0-9_]+(?:\[[0-9]+\])?)*$")
# keys that name the record (identity) or that have their own option
_IDENTITY = ("node.name", "node.tpgt", "node.conn[0].address", "node.conn[0].port",
             "node.discovery_address", "node.discovery_port", "node.discovery_type")
_ZONE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")    # IFNAMSIZ 16 with the NUL (netdevice(7))
_AUTH_KEYS = ("authmethod", "username", "password", "username_in", "password_in")
NODE_AUTH = "node.session.auth."
DISCOVERY_AUTH = "discovery.sendtargets.auth."


class Portal(object):
    """An iSCSI portal: ``addr`` (no brackets; a link-local IPv6 address keeps ``%zone``) and
    ``port``; ``str()`` is the ``ADDR:PORT`` iscsiadm takes (``[v6]:PORT``)."""

    def __init__(self, addr, port):
        self.addr, self.port = addr, int(port)
        self.v6 = ":" in addr

    def __str__(self):
        return ("[%s]:%d" if self.v6 else "%s:%d") % (self.addr, self.port)

    def __eq__(self, other):
        return isinstance(other, Portal) and (self.addr, self.port) == (other.addr, other.port)

    def __hash__(self):
        return hash((self.addr, self.port))

    def __repr__(self):
        return "Portal(%s)" % self


def _portal_error(what, text, why):
    raise RequestError("%s: %r is not ADDR[:PORT] (%s; IPv4 a.b.c.d[:port], IPv6 [addr]:port or a "
                       "bare addr, link-local [fe80::1%%eth1]:3260; port 1-65535, default 3260)"
                       % (what, text, why), option=what)


def parse_portal(text, what="portals"):
    """``ADDR[:PORT]`` -> :class:`Portal`; raises :class:`RequestError` naming ``what``."""
    if not isinstance(text, str) or not text.strip() or text != text.strip():
        _portal_error(what, text, "empty or surrounded by blanks")
    port = DEFAULT_PORT
    if text.startswith("["):
        m = re.match(r"^\[([^\]]+)\](?::([0-9]+))?$", text)
        if not m:
            _portal_error(what, text, "a '[' without ']' or junk after it")
        addr, port_text = m.group(1), m.group(2)
    elif text.count(":") > 1:
        addr, port_text = text, None        # a bare IPv6 address: no port
    else:
        addr, _sep, port_text = text.partition(":")
        port_text = port_text if _sep else None
        if _sep and not port_text:
            _portal_error(what, text, "':' without a port")
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            _portal_error(what, text, "port %r" % port_text)
        port = int(port_text)
    base, _pct, zone = addr.partition("%")
    try:
        ip = ipaddress.ip_address(base)
    except ValueError:
        _portal_error(what, text, "%r is not an IP address (names are not resolved here)" % base)
    if _pct:
        if ip.version != 6 or not ip.is_link_local or not _ZONE.match(zone):
            _portal_error(what, text, "a %zone goes with a link-local IPv6 address (fe80::/10) and "
                          "names an interface")
    elif ip.version == 6 and ip.is_link_local:
        _portal_error(what, text, "a link-local IPv6 address needs its %interface")
    return Portal(ip.compressed + ("%" + zone if _pct else ""), port)


def portal_of(addr, port):
    """A :class:`Portal` from an address and port as open-iscsi prints them (``fe80::1%lo``)."""
    base, _pct, zone = addr.strip("[]").partition("%")
    try:
        base = ipaddress.ip_address(base).compressed
    except ValueError:
        pass
    return Portal(base + ("%" + zone if _pct else ""), port)


def chap_pairs(prefix, chap):
    """CHAP options -> the record's auth settings (``username_in``/``password_in`` hold the
    target's credentials of mutual CHAP: iscsid.conf)."""
    if not chap:
        return {}
    return {prefix + "authmethod": "CHAP",
            prefix + "username": chap["username"], prefix + "password": chap["password"],
            prefix + "username_in": chap.get("mutual_username") or "",
            prefix + "password_in": chap.get("mutual_password") or ""}


def is_secret(key):
    return key.endswith(".password") or key.endswith(".password_in")


class Request(object):
    """The checked request: ``target``, ``portals`` (list of :class:`Portal`), ``interface``,
    ``state``, ``discover``, ``settings`` (desired node record values), ``discovery`` (desired
    discoverydb auth values), ``wait_timeout``, ``warnings``."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _setting_value(key, value, what):
    if isinstance(value, bool):
        value = "Yes" if value else "No"
    value = str(value)
    if not value or value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RequestError("%s: the value %r of %s must be one line of text without surrounding "
                           "blanks (iscsiadm -o update -n KEY -v VALUE)" % (what, value, key), option="settings")
    return value


def _seconds(params, name):
    value = params.get(name)
    if value is None:
        return None
    if int(value) < 0 or int(value) > 2 ** 31 - 1:
        raise RequestError("%s: %r seconds is outside 0..2147483647" % (name, value), option=name)
    return str(int(value))


def check_request(params):
    """The module's params -> :class:`Request`; raises :class:`RequestError` (nothing ran yet)."""
    warnings = []
    target = _chap.checked_name(params.get("target"), "target", warnings)
    portals = []
    for i, text in enumerate(params.get("portals") or []):
        portal = parse_portal(text, what="portals[%d]" % i)
        if portal in portals:
            raise RequestError("portals[%d]: %s is listed twice" % (i, portal), option="portals[%d]" % i)
        portals.append(portal)
    if not portals:
        raise RequestError("portals: give at least one portal (ADDR[:PORT])", option="portals")
    iface = params.get("interface") or "default"
    if not _IFACE.match(iface):
        raise RequestError("interface: %r is not an iface record name (1-64 characters of A-Z a-z "
                           "0-9 _ . : -, not starting with '.', ':' or '-'; the names of "
                           "'iscsiadm -m iface')" % iface, option="interface")
    state = params.get("state") or "logged_in"
    if state not in STATES:
        raise RequestError("state: %r is not one of %s" % (state, ", ".join(STATES)), option="state")
    settings = {}
    for key, value in sorted((params.get("settings") or {}).items()):
        what = "settings.%s" % key
        if not _KEY.match(key):
            raise RequestError("%s: %r is not a node record key (node.<name>[.<name>...], e.g. "
                               "node.session.iscsi.FirstBurstLength; see iscsiadm -m node -T T -p P)"
                               % (what, key), option="settings")
        if key in _IDENTITY or key.startswith(NODE_AUTH):
            raise RequestError("%s: %s cannot be set through settings (it names the record, or "
                               "has its own option: chap, for node.session.auth.*)" % (what, key),
                               option="settings")
        settings[key] = _setting_value(key, value, what)
    named = (("node_startup", "node.startup"),
             ("replacement_timeout", "node.session.timeo.replacement_timeout"),
             ("noop_out_interval", "node.conn[0].timeo.noop_out_interval"),
             ("noop_out_timeout", "node.conn[0].timeo.noop_out_timeout"))
    for option, key in named:
        value = params.get(option) if option == "node_startup" else _seconds(params, option)
        if value is None:
            continue
        if key in settings and settings[key] != str(value):
            raise RequestError("settings.%s: %r contradicts %s=%r" % (key, settings[key], option, value),
                               option="settings")
        settings[key] = str(value)
    chap = _chap.normalise(params.get("chap"), what="chap", warnings=warnings)
    dchap = _chap.normalise(params.get("discovery_chap"), what="discovery_chap", warnings=warnings)
    settings.update(chap_pairs(NODE_AUTH, chap))
    wait = int(params.get("wait_timeout") if params.get("wait_timeout") is not None else 30)
    if wait < 0:
        raise RequestError("wait_timeout: %d seconds is negative" % wait, option="wait_timeout")
    if dchap and not params.get("discover", True):
        raise RequestError("discovery_chap: given with discover=false (no discovery runs)",
                           option="discovery_chap")
    return Request(target=target, portals=portals, interface=iface, state=state,
                   discover=bool(params.get("discover", True)), settings=settings,
                   discovery=chap_pairs(DISCOVERY_AUTH, dchap), wait_timeout=wait, warnings=warnings)


def changed_pairs(current, desired):
    """The ``(key, value)`` pairs of ``desired`` that differ from ``current`` (a record read with
    -S; ``<empty>`` is read as ``""``), in key order."""
    return [(k, v) for k, v in sorted(desired.items()) if (current or {}).get(k) != v]


def plan(req, records, sessions):
    """Steps for ``req`` given ``records`` (``{Portal: settings dict or None}``, read with -S) and
    ``sessions`` (set of portals with a session of this target and interface).

    Each step is ``(action, portal, pairs)``: ``create`` (discover or -o new), ``update``
    (pairs), ``login``, ``logout``, ``delete``.  Discovery itself is the caller's: it runs for the
    ``create`` steps when ``req.discover``."""
    steps = []
    for portal in req.portals:
        record, session = records.get(portal), portal in sessions
        if req.state in ("logged_in", "present"):
            if record is None:
                steps.append(("create", portal, []))
                pairs = sorted(req.settings.items())
            else:
                pairs = changed_pairs(record, req.settings)
            if pairs:
                steps.append(("update", portal, pairs))
            if req.state == "logged_in" and not session:
                steps.append(("login", portal, []))
        else:
            if session:
                steps.append(("logout", portal, []))
            if req.state == "absent" and record is not None:
                steps.append(("delete", portal, []))
    return steps


def redacted(settings, keys=None, changed=()):
    """``settings`` (only ``keys`` when given) with secrets as ``********`` (``******** (changed)``
    for the secrets in ``changed``)."""
    out = {}
    for k, v in sorted((settings or {}).items()):
        if keys is not None and k not in keys:
            continue
        if is_secret(k) and v:
            v = MASK + (" (changed)" if k in changed else "")
        out[k] = v
    return out


def describe(req, records, sessions, changes=None):
    """Diff text of the managed keys of every tuple (secrets redacted)."""
    lines = []
    changes = changes or {}
    for portal in req.portals:
        record = records.get(portal)
        lines.append("%s %s -I %s:" % (req.target, portal, req.interface))
        if record is None:
            lines.append("  record: absent")
            continue
        lines.append("  session: %s" % ("logged_in" if portal in sessions else "logged_out"))
        keys = set(req.settings) | set(k for k in record if k in ("node.startup",))
        for k, v in redacted(record, keys, changes.get(portal, ())).items():
            lines.append("  %s = %s" % (k, v))
    return "\n".join(lines) + "\n"
