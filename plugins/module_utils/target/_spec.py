# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iscsi_target request (private): validate and normalise it before anything changes.

:func:`normalise` turns module parameters into :class:`TargetSpec` objects or raises
:class:`SpecError` with a message naming the option and the rule.  Providers (tgt, ietd) plan
from these objects.
"""

from __future__ import annotations

import collections
import os
import re
import stat

from ansible_collections.sanboot.lab.plugins.module_utils.common._chap import checked_name, normalise as normalise_chap
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.common._stores import store_key
from ansible_collections.sanboot.lab.plugins.module_utils.target import _params

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_NETADDR = False

LUN_MIN = 1      # tgt's LUN 0 is its controller
LUN_MAX = 255    # single-level peripheral addressing: every initiator handles 0-255
TARGET_KEYS = ("name", "state", "luns", "initiators", "initiator_addresses", "allow_all", "chap",
               "parameters")
# What the persisted configs can carry: tgt-admin runs its values through /bin/sh (a path in
# double quotes, CHAP credentials bare) after Config::General ('#' comment, '<' '>' blocks, '\\'
# escapes); ietd.conf is whitespace-separated with ',' between LUN options.
_PATH = re.compile(r"\A/[A-Za-z0-9_.+@%=:/-]*\Z")
_SH_TOKEN = re.compile(r"\A[A-Za-z0-9_.+@%=:,/-]+\Z")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SERIAL = re.compile(r"\A[A-Za-z0-9_.:-]{1,36}\Z")
# Not backing stores: the system's own files (a LUN would give an initiator the host's files)
SYSTEM_DIRS = ("/etc", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
               "/proc", "/sys", "/dev", "/run", "/var/run")


# Bad input: the message names the option and the rule (``option``).  The common layer's
# RequestError, so the CHAP and iSCSI name checks of ``_chap``/``_iqn`` raise it as they are.
SpecError = RequestError


class Lun(object):
    """One logical unit; ``size_bytes``/``serial`` are filled from the daemon when read."""

    def __init__(self, lun, path, type="fileio", readonly=False, serial=None, size_bytes=None):
        self.lun, self.path, self.type, self.readonly = int(lun), path, type, bool(readonly)
        self.serial, self.size_bytes = serial, size_bytes

    def as_dict(self):
        return dict(lun=self.lun, path=self.path, type=self.type, readonly=self.readonly,
                    serial=self.serial, size_bytes=self.size_bytes)

    def __repr__(self):
        return "Lun(%r)" % self.as_dict()


class TargetSpec(object):
    """A desired target: ``state`` present/absent, LUNs, ACL, CHAP (``chap`` holds secrets),
    ``parameters`` (``_params``: only the keys the request sets)."""

    def __init__(self, name, state="present", luns=None, initiators=None, addresses=None,
                 allow_all=False, chap=None, parameters=None):
        self.name, self.state = name, state
        self.luns = sorted(luns or [], key=lambda x: x.lun)
        self.initiators, self.addresses = list(initiators or []), list(addresses or [])
        self.allow_all, self.chap = bool(allow_all), chap
        self.parameters = dict(parameters or {})

    def __repr__(self):
        return "TargetSpec(%r, %r)" % (self.name, self.state)


def _err(what, msg):
    raise SpecError("%s: %s" % (what, msg), option=what)


def control_characters(params, keys):
    """Refuse control characters (newline, tab, NUL, DEL, ...) in any string under ``keys`` of
    ``params``: no option of these modules has a use for them, and config files break on them.
    Breadth first (the first bad value in that order is named); a value's name is only spelled
    out for the message."""
    todo = collections.deque(((k,), params.get(k)) for k in keys)
    while todo:
        where, value = todo.popleft()
        if isinstance(value, dict):
            todo.extend(((where, ".%s" % k), v) for k, v in sorted(value.items()))
        elif isinstance(value, list):
            todo.extend(((where, "[%d]" % i), v) for i, v in enumerate(value))
        elif isinstance(value, str):
            m = _CONTROL.search(value)
            if m:
                _err(_spelled(where), "contains a control character (code %d at position %d); "
                     "newlines, tabs and other control characters are refused"
                     % (ord(m.group()), m.start()))


def _spelled(where):
    parts = []
    while len(where) == 2:
        where, part = where
        parts.append(part)
    return where[0] + "".join(reversed(parts))


def _system_file(path, st, mounts):
    """Why ``path`` (resolved) may not be a backing store, or None."""
    if stat.S_ISBLK(st.st_mode):
        dev = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        if dev in mounts:
            return "block device %s is mounted on %s" % (dev, mounts[dev])
        return None
    for d in SYSTEM_DIRS:
        if path == d or path.startswith(d + "/"):
            return "it is under %s (a system directory)" % d
    return None


def read_mounts(path="/proc/self/mountinfo"):
    """``{"major:minor": mount point}`` of the mounted filesystems ({} when unreadable)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4:
                    out.setdefault(fields[2], fields[4])
    except (IOError, OSError):
        pass
    return out


def _iqn(value, what, warnings):
    return checked_name(value, what, warnings)


def _address(value, what):
    if str(value).upper() == "ALL":
        _err(what, "'ALL' is not an address; set allow_all: true to admit every initiator")
    if not HAS_NETADDR:
        _err(what, "the Python library netaddr is required to check initiator addresses")
    try:
        net = netaddr.IPNetwork(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        _err(what, "%r is not an IPv4/IPv6 address or CIDR network" % (value,))
    if net.prefixlen == 0:
        _err(what, "%r admits every initiator (tgt's ALL); set allow_all: true to say so "
             "explicitly" % (value,))
    if "/" not in str(value) or net.prefixlen == (32 if net.version == 4 else 128):
        return str(net.ip)
    if net.ip != net.network:
        _err(what, "%r has host bits set; write the network %s" % (value, net.cidr))
    return str(net.cidr)


def _chap(chap, what, warnings):
    return normalise_chap(chap, what, warnings)


def _realpath(path, dirs):
    """``os.path.realpath(path)`` of a normalised absolute path, its directory's resolution kept
    in ``dirs`` (one lstat per LUN instead of one per path component: thousands of LUNs)."""
    head, tail = os.path.split(path)
    if not tail or tail in (".", "..") or os.path.islink(path):
        return os.path.realpath(path)
    if head not in dirs:
        dirs[head] = os.path.realpath(head)
    return os.path.join(dirs[head], tail)


def _luns(items, what, check_paths, provider, force=False, mounts=None, dirs=None):
    luns, seen, dirs = [], {}, {} if dirs is None else dirs
    for i, item in enumerate(items or []):
        w = "%s[%d]" % (what, i)
        n = item.get("lun")
        if isinstance(n, bool) or not isinstance(n, int) or not LUN_MIN <= n <= LUN_MAX:
            _err(w + ".lun", "%r is not a LUN number %d-%d (LUN 0 is the target's controller)"
                 % (n, LUN_MIN, LUN_MAX))
        if n in seen:
            _err(w + ".lun", "LUN %d is given twice" % n)
        seen[n] = True
        path = item.get("path")
        if not path or not os.path.isabs(path):
            _err(w + ".path", "%r is not an absolute path" % (path,))
        path = os.path.normpath(path)
        if not _PATH.match(path):
            _err(w + ".path", "%r: use an absolute path of A-Z a-z 0-9 _ . + @ %% = : / - only "
                 "(the persisted tgt-admin/IET configs cannot carry blanks, quotes, '#', '<', "
                 "'>', ',', '$' or backslashes: tgt-admin runs them through /bin/sh)" % (path,))
        ltype = item.get("type") or "fileio"
        if ltype not in ("fileio", "blockio"):
            _err(w + ".type", "%r is not fileio or blockio" % ltype)
        if check_paths:
            try:
                st = os.stat(path)      # one stat: exists, is a directory, is a file or device
            except (OSError, ValueError):
                st = None
            if st is None:
                _err(w + ".path", "backing store %s does not exist" % path)
            if stat.S_ISDIR(st.st_mode):
                _err(w + ".path", "backing store %s is a directory" % path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                _err(w + ".path", "backing store %s is neither a regular file nor a block device"
                     % path)
            why = _system_file(_realpath(path, dirs), st,
                               read_mounts() if mounts is None else mounts)
            if why and not force:
                _err(w + ".path", "backing store %s: %s; an initiator would read and write the "
                     "host's own files. Refused unless force: true" % (path, why))
            if provider == "ietd" and ltype == "blockio" and not stat.S_ISBLK(st.st_mode):
                _err(w + ".type", "IET's blockio needs a block device; %s is not one (use "
                     "fileio)" % path)
        serial = item.get("serial")
        if serial is not None and not _SERIAL.match(str(serial)):
            _err(w + ".serial", "%r: use 1-36 characters of A-Z a-z 0-9 _ . : -" % (serial,))
        luns.append(Lun(n, path, ltype, item.get("readonly", False),
                        None if serial is None else str(serial)))
    return luns


def _one(item, what, provider, check_paths, warnings, params, mounts=None, dirs=None):
    name = _iqn(item.get("name"), what + "name", warnings)
    state = item.get("state") or "present"
    if state not in ("present", "absent"):
        _err(what + "state", "%r is not present or absent" % state)
    if state == "absent":
        return TargetSpec(name, "absent")
    inits = [_iqn(v, "%sinitiators[%d]" % (what, i), warnings)
             for i, v in enumerate(item.get("initiators") or [])]
    addrs = [_address(v, "%sinitiator_addresses[%d]" % (what, i))
             for i, v in enumerate(item.get("initiator_addresses") or [])]
    for label, vals in (("initiators", inits), ("initiator_addresses", addrs)):
        if len(set(vals)) != len(vals):
            _err(what + label, "an entry is given twice")
    allow_all = bool(item.get("allow_all"))
    if allow_all and (inits or addrs):
        _err(what + "allow_all", "allow_all: true admits every initiator; remove initiators/"
             "initiator_addresses or set allow_all: false")
    if inits and addrs:
        _err(what + "initiator_addresses", "cannot be combined with initiators for provider %s: "
             "its ACL entries are OR-ed, so an address match would admit ANY initiator name "
             "from that address, not only the listed initiators. Restrict by initiators (with "
             "CHAP) or by initiator_addresses, not both" % provider)
    if not (inits or addrs or allow_all):
        warnings.append("%sname: %s admits no initiator (no initiators, initiator_addresses or "
                        "allow_all)" % (what, name))
    chap = _chap(item.get("chap"), what + "chap", warnings)
    if chap and provider == "tgt" and params.get("persist", True):
        for key in sorted(chap):
            if not _SH_TOKEN.match(chap[key]):
                _err("%schap.%s" % (what, key), "use A-Z a-z 0-9 _ . + @ %% = : , / - only with "
                     "provider tgt and persist: true (tgt-admin passes it to /bin/sh unquoted "
                     "and cuts the command at '#')")
    luns = _luns(item.get("luns"), what + "luns", check_paths, provider,
                 bool(params.get("force")), mounts, dirs)
    tuning = _params.normalise(item.get("parameters"), what + "parameters")
    if tuning and provider != "tgt":
        _err(what + "parameters", "is supported with provider tgt only")
    return TargetSpec(name, "present", luns, sorted(inits), sorted(addrs), allow_all, chap, tuning)


def normalise(params, provider="tgt", check_paths=True):
    """``(targets, warnings)`` from module params (``name`` or ``targets``); raises SpecError."""
    warnings = []
    control_characters(params, ("name", "targets", "luns", "initiators", "initiator_addresses",
                                "chap", "portals", "config_dir", "parameters"))
    cp = params.get("control_port", 0)
    if isinstance(cp, bool) or not isinstance(cp, int) or not 0 <= cp <= 65535:
        _err("control_port", "%r is not a tgtd control port (0-65535)" % (cp,))
    if params.get("purge") and not params.get("targets"):
        _err("purge", "purge removes every target of the daemon that is not listed: it needs the "
             "complete list in targets (with name, or an empty list, it would remove all others)")
    if params.get("targets") is not None:
        if params.get("name"):
            _err("targets", "name and targets are mutually exclusive")
        items = [(t, "targets[%d]." % i) for i, t in enumerate(params["targets"])]
    else:
        if not params.get("name"):
            _err("name", "name (or targets) is required")
        items = [(dict((k, params.get(k)) for k in TARGET_KEYS), "")]
    mounts = read_mounts() if check_paths else None     # once per run, not once per LUN
    dirs = {}       # resolved directories of the backing stores (_realpath)
    specs = [_one(item, what, provider, check_paths, warnings, params, mounts, dirs)
             for item, what in items]
    names = [s.name for s in specs]
    count = collections.Counter(names)
    for n in names:
        if count[n] > 1:
            _err("targets", "target %s is listed twice" % n)
    _shared_paths(specs)
    return specs, warnings


def _shared_paths(specs):
    """Refuse one backing store (one ``_stores.store_key``: hard links and symlinks included) in
    two places of the request unless every use is read-only."""
    users = {}
    for s in specs:
        for lun in s.luns:
            key = store_key(lun.path)
            users.setdefault(key, []).append((s.name, lun))
    for uses in users.values():
        if len(uses) > 1 and not all(use[1].readonly for use in uses):
            _err("luns", "backing store %s is used by %s; a backing store may be exported more "
                 "than once only when every export is read-only (two writers corrupt it)"
                 % (uses[0][1].path, ", ".join("%s LUN %d (%s)" % (n, lun.lun, lun.path)
                                               for n, lun in uses)))


def to_yaml(obj, indent=0):
    """Readable YAML text of plain data (dicts, lists, scalars) for ``diff``; no PyYAML needed."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        out = ""
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out += "%s%s:\n%s" % (pad, k, to_yaml(v, indent + 1))
            else:
                out += "%s%s: %s\n" % (pad, k, _scalar(v))
        return out
    if isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        out = ""
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                text = to_yaml(v, indent + 1)
                out += pad + "- " + text[len(pad) + 2:]
            else:
                out += "%s- %s\n" % (pad, _scalar(v))
        return out
    return pad + _scalar(obj) + "\n"


def _scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    s = str(v)
    if re.match(r"^[A-Za-z0-9_./][A-Za-z0-9_./:@-]*$", s) and s not in ("true", "false", "null",
                                                                        "yes", "no"):
        return s
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
