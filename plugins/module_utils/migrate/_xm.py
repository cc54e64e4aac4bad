# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration with the xend toolstack, ``xm`` (private).

Runs on the SOURCE dom0.  ``xm list --long DOMAIN`` prints the domain as an s-expression
(``(domain (domid 3) (name g) (memory 512) (device (vbd (uname phy:/dev/...) (dev xvda:disk)))
...)``), parsed by :func:`parse_sexpr` -- the same syntax as ``/etc/xen/xend-config.sxp``
(``#`` comments, ``'...'``/``"..."`` strings with backslash escapes, as xen/xend/sxp.py reads
them).  The destination is asked over ssh: ``xm info``, its ``xend-config.sxp`` (the
relocation server must be on, and ``xend-relocation-hosts-allow`` -- regular expressions
matched with ``re.match`` against the connecting host's name or address, '' = everyone --
must admit the source) and ``ss -Htlnp``: xend must be the process listening on the
relocation port (default 8002), not something else.  The move is
``xm migrate --live [--port=P] [--resource=Mb/s] DOMAIN HOST``; xend keeps the guest on the
source when the transfer fails.  xend reports no downtime: it stays None.
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import (
    MigrationError, describe_path,
)
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._xl import XlDriver

XEND_CONFIG = "/etc/xen/xend-config.sxp"
DEFAULT_RELOCATION_PORT = 8002
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def tokenize(text):
    """Tokens of an s-expression text: ``(``, ``)`` and ``("atom", value)`` tuples."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "()":
            yield c
            i += 1
        elif c in "'\"":
            value, i = [], i + 1
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                    value.append(_ESCAPES.get(text[i], text[i]))
                else:
                    value.append(text[i])
                i += 1
            if i >= n:
                raise ValueError("unterminated string in s-expression")
            yield ("atom", "".join(value))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in "()'\"":
                i += 1
            yield ("atom", text[start:i])


def parse_sexpr(text):
    """All top-level forms of ``text`` as nested lists of str."""
    stack, top = [], []
    for tok in tokenize(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if not stack:
                raise ValueError("unbalanced ')' in s-expression")
            form = stack.pop()
            (stack[-1] if stack else top).append(form)
        else:
            (stack[-1] if stack else top).append(tok[1])
    if stack:
        raise ValueError("unbalanced '(' in s-expression")
    return top


def child(form, name, default=None):
    """Value of the first ``(name value)`` child of ``form`` (xend's sxp.child_value)."""
    for item in form[1:]:
        if isinstance(item, list) and item and item[0] == name:
            return item[1] if len(item) > 1 else ""
    return default


def children(form, name):
    return [item for item in form[1:] if isinstance(item, list) and item and item[0] == name]


def config_settings(text):
    """``{name: value}`` of a xend-config.sxp (first one wins, as in XendOptions)."""
    settings = {}
    for form in parse_sexpr(text):
        if isinstance(form, list) and form and isinstance(form[0], str):
            settings.setdefault(form[0], form[1] if len(form) == 2 else form[1:])
    return settings


def xm_disk(dev):
    """One ``(vbd ...)``/``(tap ...)``/``(tap2 ...)`` device -> a disk dict."""
    uname = child(dev, "uname", "") or ""
    device = (child(dev, "dev", "") or "").split(":")[0]
    scheme, _sep, rest = uname.partition(":")
    if not uname:
        out = {"kind": "none"}
    elif scheme == "phy":
        out = describe_path(rest if rest.startswith("/") else "/dev/" + rest)
    elif scheme == "iscsi":
        out = {"kind": "network", "protocol": "iscsi", "path": uname, "target": rest}
    else:   # file:, tap:aio:, tap:qcow:, tap2:tapdisk:aio: ... are files of this dom0
        out = {"kind": "file", "protocol": None, "path": uname.rsplit(":", 1)[-1]}
    out["device"] = device
    return out


def guest_facts(name, forms):
    """Guest facts from parsed ``xm list --long`` output."""
    for form in forms:
        if isinstance(form, list) and form[:1] == ["domain"] and child(form, "name") == name:
            memory = child(form, "memory")
            disks = []
            for dev in children(form, "device"):
                for inner in dev[1:]:
                    if isinstance(inner, list) and inner[0] in ("vbd", "tap", "tap2"):
                        disks.append(xm_disk(inner))
            return {"name": name, "found": True, "domid": child(form, "domid"),
                    "memory_bytes": int(memory) * 1048576 if memory else None,
                    "disks": disks}
    return {"name": name, "found": False, "disks": []}


def parse_listeners(text):
    """``ss -Htlnp`` -> list of ``{"address", "port", "processes": [(name, pid)]}``."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 5:
            continue
        local = words[3]
        addr, _sep, port = local.rpartition(":")
        if not port.isdigit():
            continue
        procs = [(m.group(1), int(m.group(2)))
                 for m in re.finditer(r'\("([^"]*)",pid=(\d+)', line)]
        out.append({"address": addr, "port": int(port), "processes": procs})
    return out


def relocation_problems(settings, listeners, source_names, host="destination"):
    """Why ``host`` would refuse a relocation from a source known by ``source_names``."""
    problems = []
    if str(settings.get("xend-relocation-server", "no")).lower() != "yes":
        problems.append("xend-relocation-server is not 'yes' in %s on %s" % (XEND_CONFIG, host))
    port = relocation_port(settings)
    allow = str(settings.get("xend-relocation-hosts-allow", "") or "").split()
    if allow:
        try:
            rules = [re.compile(r) for r in allow]
        except re.error as exc:
            rules = []
            problems.append("xend-relocation-hosts-allow on %s is not a valid regular "
                            "expression: %s" % (host, exc))
        if rules and not any(r.match(n) for r in rules for n in source_names if n):
            names = ", ".join(n for n in source_names if n)
            problems.append("xend-relocation-hosts-allow '%s' on %s admits none of the source's "
                            "names/addresses (%s)" % (" ".join(allow), host, names))
    if listeners is not None:
        on_port = [entry for entry in listeners if entry["port"] == port]
        others = [p for entry in on_port for p in entry["processes"] if p[0] != "xend"]
        if others:
            problems.append("relocation port %d on %s is already taken by %s" % (
                port, host, ", ".join("%s (pid %d)" % p for p in others)))
        elif not on_port:
            problems.append("nothing listens on relocation port %d on %s (xend not running or "
                            "not restarted since %s changed)" % (port, host, XEND_CONFIG))
    return problems


def relocation_port(settings):
    value = settings.get("xend-relocation-port", DEFAULT_RELOCATION_PORT)
    return int(value) if str(value).isdigit() else DEFAULT_RELOCATION_PORT


class XmDriver(XlDriver):
    name = tool = "xm"
    # xend relocation is plaintext TCP here (no --ssl): tls and the others stay neutral
    OPTIONS = {
        "bandwidth_mbps": "xm migrate --resource=Mb/s",
        "live": "xm migrate --live (without it: the guest pauses for the copy)",
    }

    def __init__(self, runner, params):
        XlDriver.__init__(self, runner, params)
        self.port = None

    def list_guest(self, host):
        rc, out, _err = host.run([self.tool, "list", "--long", self.p["domain"]])
        if rc != 0:
            return {"name": self.p["domain"], "found": False, "disks": []}
        try:
            return guest_facts(self.p["domain"], parse_sexpr(out))
        except ValueError as exc:
            raise MigrationError("cannot read 'xm list --long': %s" % exc)

    def gather(self):
        guest, src, dst = XlDriver.gather(self)
        if not dst["reachable"]:
            return guest, src, dst
        rc, out, err = self.dst.run(["cat", XEND_CONFIG])
        if rc != 0:
            dst.update(accepts=False, accept_error="cannot read %s: %s" % (XEND_CONFIG, err))
            return guest, src, dst
        try:
            settings = config_settings(out)
        except ValueError as exc:
            dst.update(accepts=False, accept_error="%s: %s" % (XEND_CONFIG, exc))
            return guest, src, dst
        self.port = relocation_port(settings)
        rc, out, _err = self.dst.run(["ss", "-Htlnp"])
        listeners = parse_listeners(out) if rc == 0 else None
        names = [self.p["source"]] + (src.get("addresses") or self.src.addresses() or [])
        problems = relocation_problems(settings, listeners, names, self.p["destination"])
        dst.update(accepts=not problems, accept_error="; ".join(problems))
        return guest, src, dst

    def migrate_argv(self):
        argv = [self.tool, "migrate"]
        if self.p["live"]:
            argv.append("--live")
        if self.port and self.port != DEFAULT_RELOCATION_PORT:
            argv.append("--port=%d" % self.port)
        if self.p.get("bandwidth_mbps"):
            argv.append("--resource=%d" % self.p["bandwidth_mbps"])
        return argv + [self.p["domain"], self.p["destination"]]
