# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pxe_server request (private): networks served, reservations, boot entries and boot-image
generations, validated before anything changes.

:func:`normalise` turns module parameters into a :class:`Request` or raises :class:`PxeError`
with a message naming the option and the rule.  Rules and their sources:

* a served network must lie inside one of ``allowed_networks`` (an accidental DHCP server on a
  real LAN is the classic PXE accident); ``0.0.0.0/0`` is no allowed network;
* networks do not overlap; a DHCP range has both ends, inside its network, neither the network
  nor the broadcast address, start <= end; ranges do not overlap;
* a reservation has a MAC of six colon-separated hex pairs (dnsmasq ``dhcp-host``; written
  lower-case), an IP inside a served network, an RFC 1123 host name (one label: it names the
  host's iPXE script); MAC, IP and host name are each unique;
* boot entries: ``ipxe_sanboot_iscsi`` (RFC 4173 root path, LUN written in hexadecimal; CHAP as
  iPXE settings, never in the URI; RFC 3720 section 8.2.1 secret rules), ``ipxe_sanboot_aoe``
  (shelf 0-65534, slot 0-254: 0xffff/0xff are the AoE broadcast addresses), ``kernel`` (paths
  relative to the TFTP root; a command line carrying a password is refused: it would land in a
  world-readable pxelinux file and in ``/proc/cmdline``).

Addresses use the standard library's ``ipaddress`` (IPv4 only: PXE ROMs speak DHCPv4).
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._chap import checked_name, normalise as normalise_chap
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.common._netif import name_problem

KINDS = ("ipxe_sanboot_iscsi", "ipxe_sanboot_aoe", "kernel")
LOADERS = ("pxelinux", "ipxe")
ENTRY_KEYS = {
    "ipxe_sanboot_iscsi": ("target", "portal", "port", "lun", "initiator", "chap"),
    "ipxe_sanboot_aoe": ("shelf", "slot"),
    "kernel": ("kernel", "initrd", "cmdline", "loader"),
}
MAC = re.compile(r"\A[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\Z")
UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
HOSTNAME = re.compile(r"\A[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")      # RFC 1123 label
NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
FILE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}\Z")
LEASE = re.compile(r"\A(infinite|[0-9]{1,9}[smhdw]?)\Z")                      # dnsmasq lease time
# words iPXE or a boot loader would interpret: ${...} expansion, ||, &&, quotes, comments
CMDLINE_BAD = re.compile(r"[\x00-\x1f\x7f$\\\"'`;|&#<>]")
SECRET_WORD = re.compile(r"(?i)(?:^|\s)[\w.-]*(password|passwd|secret)[\w.-]*=")
RESERVED = ("current", "SHA256SUMS")
AOE_SHELF_MAX, AOE_SLOT_MAX = 0xfffe, 0xfe
SYSTEM_DIRS = ("", "/etc", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/proc", "/sys", "/dev",
               "/run", "/var", "/var/lib", "/root", "/home", "/srv", "/tmp")


# Bad input: the message names the option and the rule (``option`` carries it).
PxeError = RequestError


class Request(object):
    """The validated request; ``secrets`` lists every CHAP secret (kept out of world-readable files,
    diffs and logs)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _fail(what, msg):
    raise PxeError("%s: %s" % (what, msg), option=what)


def _network(value, what):
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError as e:
        _fail(what, "%r is not an IPv4 network in CIDR form (%s)" % (value, e))
    if net.version != 4:
        _fail(what, "%s: only IPv4 (PXE ROMs use DHCPv4)" % value)
    return net


def _address(value, what):
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        _fail(what, "%r is not an IPv4 address" % (value,))
    if addr.version != 4:
        _fail(what, "%s: only IPv4 (PXE ROMs use DHCPv4)" % value)
    return addr


def _host_address(value, net, what):
    addr = _address(value, what)
    if addr not in net:
        _fail(what, "%s is outside the network %s" % (addr, net))
    if net.prefixlen < 31 and addr in (net.network_address, net.broadcast_address):
        _fail(what, "%s is the %s address of %s" % (
            addr, "network" if addr == net.network_address else "broadcast", net))
    return addr


def tftp_path(value, what):
    """A file below the TFTP root: relative, '/'-separated names of [A-Za-z0-9_.+-], no '..'."""
    parts = str(value or "").split("/")
    if not value or not all(FILE.match(p) and p not in (".", "..") for p in parts):
        _fail(what, "%r: a path relative to tftp_root, names of letters, digits and '_.+-' "
                    "separated by '/', no '..' and no leading '/'" % (value,))
    return "/".join(parts)


def _allowed(params):
    allowed = []
    for i, value in enumerate(params.get("allowed_networks") or []):
        net = _network(value, "allowed_networks[%d]" % i)
        if net.prefixlen == 0:
            _fail("allowed_networks[%d]" % i,
                  "0.0.0.0/0 allows every network: list the storage networks DHCP may be served on")
        allowed.append(net)
    if not allowed:
        _fail("allowed_networks", "required: the networks (CIDR) DHCP may be served on, e.g. the "
                                  "storage networks; nothing is served outside them")
    return allowed


def _networks(params, allowed):
    nets = []
    for i, n in enumerate(params.get("networks") or []):
        what = "networks[%d]" % i
        bad = name_problem(n.get("interface"))
        if bad:
            _fail(what + ".interface", bad)
        net = _network(n.get("cidr"), what + ".cidr")
        if not any(net.subnet_of(a) for a in allowed):
            _fail(what + ".cidr", "%s is not inside allowed_networks (%s): refusing to serve DHCP "
                  "there" % (net, ", ".join(str(a) for a in allowed)))
        for other in nets:
            if net.overlaps(other["cidr"]):
                _fail(what + ".cidr", "%s overlaps %s of %s" % (net, other["cidr"], other["what"]))
        start, end = n.get("range_start"), n.get("range_end")
        if bool(start) != bool(end):
            _fail(what + (".range_end" if start else ".range_start"), "range_start and range_end go together")
        if start:
            start = _host_address(start, net, what + ".range_start")
            end = _host_address(end, net, what + ".range_end")
            if end < start:
                _fail(what + ".range_end", "%s is below range_start %s" % (end, start))
            for other in nets:
                if other["start"] and start <= other["end"] and other["start"] <= end:
                    _fail(what + ".range_start", "the range %s-%s overlaps %s-%s of %s"
                          % (start, end, other["start"], other["end"], other["what"]))
        lease = str(n.get("lease_time") or "1h")
        if not LEASE.match(lease):
            _fail(what + ".lease_time", "%r: seconds, or a number with s, m, h, d or w, or "
                                        "'infinite' (dnsmasq's lease time)" % lease)
        router = _host_address(n["router"], net, what + ".router") if n.get("router") else None
        nets.append(dict(what=what, interface=n["interface"], cidr=net, start=start, end=end,
                         lease_time=lease, router=router, tag="sbnet%d" % i))
    if not nets:
        _fail("networks", "at least one network to serve")
    return nets


def _cmdline(value, what):
    value = str(value or "")
    if CMDLINE_BAD.search(value):
        _fail(what, "control characters, quotes, backslashes and $ ; | & # < > ` are not allowed "
                    "(iPXE and pxelinux would interpret them)")
    if SECRET_WORD.search(value):
        _fail(what, "carries a secret (a *password*=/*secret*= parameter): it would be written to a "
                    "world-readable pxelinux file, served by TFTP to anyone, and land in "
                    "/proc/cmdline; use an iBFT boot or credentials inside the initramfs")
    return value


def _entry(e, i, warnings, secrets):
    what = "boot_entries[%d]" % i
    name, kind = e.get("name"), e.get("type")
    if not name or not NAME.match(str(name)):
        _fail(what + ".name", "%r: 1-63 letters, digits and '_.-'" % (name,))
    if kind not in KINDS:
        _fail(what + ".type", "%r: one of %s" % (kind, ", ".join(KINDS)))
    for key in sorted(k for k in set(k for ks in ENTRY_KEYS.values() for k in ks) if e.get(k) not in (None, [], {})):
        if key not in ENTRY_KEYS[kind]:
            _fail("%s.%s" % (what, key), "not an option of type %s (its options: %s)"
                  % (kind, ", ".join(ENTRY_KEYS[kind])))
    out = dict(name=name, type=kind)
    if kind == "ipxe_sanboot_iscsi":
        for key in ("target", "portal", "initiator"):
            if not e.get(key):
                _fail("%s.%s" % (what, key), "required for type %s" % kind)
        out["target"] = checked_name(e["target"], what + ".target", warnings)
        out["initiator"] = checked_name(e["initiator"], what + ".initiator", warnings)
        out["portal"] = _address(e["portal"], what + ".portal")
        out["port"] = 3260 if e.get("port") is None else int(e["port"])
        if not 1 <= out["port"] <= 65535:
            _fail(what + ".port", "%d: 1-65535" % out["port"])
        out["lun"] = int(e["lun"] if e.get("lun") is not None else 1)
        if not 0 <= out["lun"] <= 255:
            _fail(what + ".lun", "%d: 0-255 (single-level LUN, written in hexadecimal in the "
                                 "RFC 4173 root path)" % out["lun"])
        chap = normalise_chap(e.get("chap"), what + ".chap", warnings, tokens=True) or {}
        for key, val in sorted(chap.items()):
            if "$" in val:
                _fail("%s.chap.%s" % (what, key), "'$' starts an iPXE settings expansion (${...}); "
                                                  "not allowed in an iPXE script value")
        out["chap"] = chap
        secrets.extend(v for k, v in sorted(chap.items()) if k.endswith("password"))
    elif kind == "ipxe_sanboot_aoe":
        for key, top in (("shelf", AOE_SHELF_MAX), ("slot", AOE_SLOT_MAX)):
            if e.get(key) is None:
                _fail("%s.%s" % (what, key), "required for type %s" % kind)
            if not 0 <= int(e[key]) <= top:
                _fail("%s.%s" % (what, key), "%s: 0-%d (AoE: 0x%x is the broadcast address)"
                      % (e[key], top, top + 1))
            out[key] = int(e[key])
    else:
        out["kernel"] = tftp_path(e.get("kernel"), what + ".kernel")
        initrd = e.get("initrd") or []
        initrd = [initrd] if isinstance(initrd, str) else list(initrd)
        out["initrd"] = [tftp_path(p, "%s.initrd[%d]" % (what, j)) for j, p in enumerate(initrd)]
        out["cmdline"] = _cmdline(e.get("cmdline"), what + ".cmdline")
        out["loader"] = e.get("loader") or "pxelinux"
        if out["loader"] not in LOADERS:
            _fail(what + ".loader", "%r: one of %s" % (out["loader"], ", ".join(LOADERS)))
    return out


def _entries(params, warnings, secrets):
    entries = {}
    for i, e in enumerate(params.get("boot_entries") or []):
        entry = _entry(e, i, warnings, secrets)
        if entry["name"] in entries:
            _fail("boot_entries[%d].name" % i, "%s is listed twice" % entry["name"])
        entry["what"] = "boot_entries[%d]" % i
        entries[entry["name"]] = entry
    return entries


def _hosts(params, nets, entries):
    hosts, seen = [], {}
    for i, h in enumerate(params.get("hosts") or []):
        what = "hosts[%d]" % i
        mac = str(h.get("mac") or "")
        if not MAC.match(mac):
            _fail(what + ".mac", "%r: six pairs of hex digits separated by ':' (aa:bb:cc:dd:ee:ff)" % mac)
        mac = mac.lower()
        if int(mac[:2], 16) & 1:
            _fail(what + ".mac", "%s is a multicast/broadcast address, not a NIC's" % mac)
        ip = _address(h.get("ip"), what + ".ip")
        net = next((n for n in nets if ip in n["cidr"]), None)
        if net is None:
            _fail(what + ".ip", "%s is outside every served network (%s)"
                  % (ip, ", ".join(str(n["cidr"]) for n in nets)))
        _host_address(ip, net["cidr"], what + ".ip")
        hostname = str(h.get("hostname") or "")
        if not HOSTNAME.match(hostname):
            _fail(what + ".hostname", "%r: one RFC 1123 label (letters, digits, '-'; 1-63)" % hostname)
        uuid = h.get("uuid")
        if uuid is not None:
            uuid = str(uuid).lower()
            if not UUID.match(uuid):
                _fail(what + ".uuid", "%r: a SMBIOS UUID such as 8-4-4-4-12 hex digits" % h["uuid"])
        for key, val in (("mac", mac), ("ip", ip), ("hostname", hostname.lower()), ("uuid", uuid)):
            if val is not None and (key, val) in seen:
                _fail("%s.%s" % (what, key), "%s is already reserved by %s" % (val, seen[(key, val)]))
            seen[(key, val)] = what
        boot = h.get("boot")
        if boot is not None and boot not in entries:
            _fail(what + ".boot", "%r is not the name of a boot entry (%s)" % (boot, ", ".join(sorted(entries)) or "none"))
        hosts.append(dict(what=what, mac=mac, ip=ip, hostname=hostname, uuid=uuid, boot=boot,
                          net=net, tag="sbhost-%s" % hostname.lower()))
    return hosts


def _generations(params):
    gens, names = [], set()
    for i, g in enumerate(params.get("generations") or []):
        what = "generations[%d]" % i
        name = str(g.get("name") or "")
        if not NAME.match(name) or name in RESERVED:
            _fail(what + ".name", "%r: 1-63 letters, digits and '_.-', not %s" % (name, " or ".join(RESERVED)))
        if name in names:
            _fail(what + ".name", "%s is listed twice" % name)
        names.add(name)
        files = {}
        for dest, src in sorted((g.get("files") or {}).items()):
            if not FILE.match(str(dest)) or dest in RESERVED:
                _fail("%s.files.%s" % (what, dest), "a file name of letters, digits and '_.+-' (not SHA256SUMS)")
            if not isinstance(src, str) or not src.startswith("/"):
                _fail("%s.files.%s" % (what, dest), "%r: the absolute path of the source file on this host" % (src,))
            files[dest] = src
        gens.append(dict(what=what, name=name, files=files))
    current = params.get("current_generation")
    if current is None and gens:
        current = gens[-1]["name"]
    if current is not None and (not NAME.match(str(current)) or current in RESERVED):
        _fail("current_generation", "%r is not a generation name" % (current,))
    keep = 3 if params.get("keep_generations") is None else int(params["keep_generations"])
    if keep < 1:
        _fail("keep_generations", "%d: at least 1 (the current generation is never pruned)" % keep)
    protected = names | ({current} if current else set())
    if len(protected) > keep:
        _fail("keep_generations", "%d, but %d generations are listed or current (%s): raise it or "
              "list fewer" % (keep, len(protected), ", ".join(sorted(protected))))
    return gens, current, keep


def normalise(params):
    """Check the module parameters; return ``(Request, warnings)`` or raise PxeError."""
    warnings, secrets = [], []
    for key in ("tftp_root", "config_path"):
        value = params.get(key)
        if not isinstance(value, str) or not value.startswith("/") or re.search(r"[\s,#\x00-\x1f\x7f]", value):
            _fail(key, "%r: an absolute path without blanks, commas, '#' or control characters "
                       "(dnsmasq option values are comma-separated)" % (value,))
        if value.rstrip("/") in SYSTEM_DIRS:
            _fail(key, "%s is a system directory: TFTP would serve it and files would be written "
                       "into it; use a directory of its own such as /srv/tftp" % value)
    tftp_user = params.get("tftp_user") or "dnsmasq"
    if not re.match(r"\A[a-z_][a-z0-9_-]{0,31}\Z", tftp_user):
        _fail("tftp_user", "%r is not a user name" % tftp_user)
    allowed = _allowed(params)
    nets = _networks(params, allowed)
    entries = _entries(params, warnings, secrets)
    hosts = _hosts(params, nets, entries)
    used = set(h["boot"] for h in hosts if h["boot"])
    for name in sorted(set(entries) - used):
        warnings.append("%s (%s): no host boots it" % (entries[name]["what"], name))
    gens, current, keep = _generations(params)
    for key in ("ipxe_bootfile", "pxelinux_bootfile"):
        tftp_path(params.get(key), key)
    return Request(
        tftp_root=params["tftp_root"].rstrip("/"), config_path=params["config_path"],
        tftp_user=tftp_user, allowed=allowed, networks=nets, hosts=hosts, entries=entries,
        generations=gens, current=current, keep=keep, secrets=secrets,
        ipxe_bootfile=params.get("ipxe_bootfile"), pxelinux_bootfile=params.get("pxelinux_bootfile"),
        dns=bool(params.get("dns")), log_dhcp=bool(params.get("log_dhcp")),
    ), warnings


def parse_ip_addr(text):
    """``{interface: [IPv4Interface, ...]}`` from ``ip -j -4 addr show`` (iproute2 JSON)."""
    out = {}
    for link in json.loads(text or "[]"):
        addrs = out.setdefault(link.get("ifname"), [])
        for a in link.get("addr_info") or []:
            if a.get("family") == "inet" and a.get("local"):
                addrs.append(ipaddress.ip_interface("%s/%s" % (a["local"], a.get("prefixlen", 32))))
    return out


def check_interfaces(req, addresses):
    """Raise PxeError unless every served network's interface holds an address in that network
    (dnsmasq serves a range only through such an interface), outside its DHCP range and different
    from every reservation."""
    for n in req.networks:
        what = n["what"] + ".interface"
        if n["interface"] not in addresses:
            _fail(what, "%s does not exist on this host" % n["interface"])
        mine = [a.ip for a in addresses[n["interface"]] if a.ip in n["cidr"]]
        if not mine:
            _fail(what, "%s has no IPv4 address in %s (it has: %s): DHCP would not be served there"
                  % (n["interface"], n["cidr"], ", ".join(str(a) for a in addresses[n["interface"]]) or "none"))
        for ip in mine:
            if n["start"] and n["start"] <= ip <= n["end"]:
                _fail(n["what"] + ".range_start", "the range %s-%s holds this server's own address %s"
                      % (n["start"], n["end"], ip))
            for h in req.hosts:
                if h["ip"] == ip:
                    _fail(h["what"] + ".ip", "%s is this server's own address on %s" % (ip, n["interface"]))
