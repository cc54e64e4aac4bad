# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root on a dm-multipath map over several iSCSI portals (private, pure; ``initramfs_iscsi``).

What the boot needs, as read in Debian bookworm's packages (open-iscsi 2.1.8, multipath-tools-boot
0.9.4, initramfs-tools 0.142):

* ``scripts/local-top/iscsi`` configures **one** interface (the kernel's ``ip=``, through
  ``configure_networking``) and then logs in to every address of ``ISCSI_TARGET_IP``; an address
  on another storage network would be tried over that one interface (or its default route), so
  ``iscsi.initramfs`` names only the first portal when ``multipath`` is on;
* ``scripts/local-top/sanboot_iscsi_multipath`` (written here, ``PREREQ="iscsi"``) configures the
  interfaces of the other storage networks (klibc ``ipconfig``, static), logs in once per missing
  portal (``iscsistart``, the same target, port and CHAP from ``/etc/iscsi.initramfs``), waits up
  to ``multipath_wait`` seconds for the LUN behind every portal, then runs ``multipath -v0``;
* ``scripts/local-top/multipath`` (multipath-tools-boot, ``PREREQ="udev iscsi"``) runs
  ``multipath -v0`` too: initramfs-tools orders the two scripts with ``tsort``, so which of them
  runs first is not fixed; ``multipath`` adds paths to an existing map, either order ends with
  one map holding every path;
* ``hooks/multipath`` copies ``/etc/multipath.conf``, ``/etc/multipath/wwids`` and ``bindings``
  into the initramfs: the configuration written here is the one of both the initramfs and the
  booted system (multipathd takes the map over after the switch to the real root).
"""

from __future__ import annotations

import ipaddress
import re
import shlex

from ansible_collections.sanboot.lab.plugins.module_utils.boot._cmdline import IFNAME, RequestError, one_line
from ansible_collections.sanboot.lab.plugins.module_utils.boot._scripts import prereqs

MULTIPATH_CONF = "etc/multipath.conf"
WWIDS_FILE = "etc/multipath/wwids"
PATHS_SCRIPT = "etc/initramfs-tools/scripts/local-top/sanboot_iscsi_multipath"
REQUIRED = (
    ("multipath-tools-boot", ("usr/share/initramfs-tools/scripts/local-top/multipath",)),
    ("multipath-tools (multipath)", ("usr/sbin/multipath", "sbin/multipath")),
)
HEADER = "# Written by sanboot.lab (initramfs_iscsi). Changes here are overwritten.\n"
_ALIAS = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
_WWID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}\Z")
# Local disks of the lab's guests: multipath must never claim them (multipath.conf(5) blacklist).
BLACKLIST = ("^vd[a-z]+", "^xvd[a-z]+", "^sr[0-9]+", "^loop[0-9]+", "^ram[0-9]+", "^zram[0-9]+",
             "^nbd[0-9]+")


def normalise(params, req):
    """Check the multipath options into ``req`` (in place); return the ``root_device`` to use
    (``/dev/mapper/ALIAS`` by default when the WWID is known). RequestError naming the option."""
    req["multipath"] = bool(params.get("multipath"))
    alias = params.get("multipath_alias") or "sanroot"
    wwid = params.get("multipath_wwid") or ""
    ifaces = params.get("multipath_interfaces") or []
    wait = int(params.get("multipath_wait", 30) if params.get("multipath_wait") is not None else 30)
    if not req["multipath"]:
        for key, value in (("multipath_wwid", wwid), ("multipath_interfaces", ifaces)):
            if value:
                raise RequestError("%s: only with multipath=true" % key, option=key)
        return params.get("root_device")
    if params.get("firmware"):
        raise RequestError("multipath: not with firmware=true (open-iscsi's iBFT login, "
                           "'iscsistart -b', logs in to the firmware's target only)", option="multipath")
    if not _ALIAS.match(one_line(alias, "multipath_alias")):
        raise RequestError("multipath_alias: %r is not a map name (1-64 characters of A-Z a-z 0-9 "
                           "_ . -, not starting with . or -; it becomes /dev/mapper/NAME)" % alias,
                           option="multipath_alias")
    if wwid and not _WWID.match(one_line(wwid, "multipath_wwid")):
        raise RequestError("multipath_wwid: %r is not a WWID as 'multipath -ll' or "
                           "'/lib/udev/scsi_id -g -u' print it (e.g. 36001405...)" % wwid, option="multipath_wwid")
    if not 1 <= wait <= 600:
        raise RequestError("multipath_wait: %r seconds is not 1-600" % wait, option="multipath_wait")
    out = []
    for i, entry in enumerate(ifaces):
        what = "multipath_interfaces[%d]" % i
        if not isinstance(entry, dict) or set(entry) - {"interface", "address"} \
                or not entry.get("interface") or not entry.get("address"):
            raise RequestError("%s: needs exactly the keys interface and address (ADDR/PREFIX)" % what,
                               option=what)
        name = one_line(str(entry["interface"]), what + ".interface")
        if not IFNAME.match(name) or name == params.get("boot_interface"):
            raise RequestError("%s.interface: %r is not an interface name other than boot_interface"
                               % (what, name), option=what + ".interface")
        try:
            net = ipaddress.IPv4Interface(str(entry["address"]))
        except ValueError:
            raise RequestError("%s.address: %r is not IPv4 ADDR/PREFIX (the initramfs' ipconfig is "
                               "IPv4 only)" % (what, entry["address"]), option=what + ".address")
        if "/" not in str(entry["address"]):
            raise RequestError("%s.address: %r needs a prefix (ADDR/PREFIX)" % (what, entry["address"]),
                               option=what + ".address")
        if name in [o["interface"] for o in out]:
            raise RequestError("%s.interface: %s is listed twice" % (what, name), option=what + ".interface")
        out.append(dict(interface=name, address=str(net.ip), netmask=str(net.netmask),
                        prefix=net.network.prefixlen))
    if len(req.get("portals") or []) < 2:
        raise RequestError("portals: multipath needs two or more portals (one per storage network)",
                           option="portals")
    req.update(multipath_alias=alias, multipath_wwid=wwid, multipath_interfaces=out, multipath_wait=wait)
    if not params.get("root_device"):
        if not wwid:
            raise RequestError("root_device: required with multipath=true and no multipath_wwid (e.g. "
                               "LABEL=root; with multipath_wwid the default is /dev/mapper/ALIAS)",
                               option="root_device")
        return "/dev/mapper/%s" % alias
    return params.get("root_device")


def render_conf(req):
    """``/etc/multipath.conf`` for the root map (also copied into the initramfs by hooks/multipath)."""
    wwid, alias = req.get("multipath_wwid"), req["multipath_alias"]
    lines = [HEADER.rstrip("\n"),
             "# The root file system is on the dm-multipath map of the iSCSI LUN %s"
             % ("%s (/dev/mapper/%s)" % (wwid, alias) if wwid else "reached over every portal"),
             "# hooks/multipath copies this file into the initramfs: it is the configuration of the",
             "# initramfs' 'multipath -v0' and of multipathd in the booted system.",
             "defaults {",
             "\t# Names from the multipaths section, else mpathN (/etc/multipath/bindings) rather than",
             "\t# the bare WWID.",
             "\tuser_friendly_names yes"]
    if wwid:
        lines += ["\t# strict: a map only for the WWIDs in /etc/multipath/wwids (the root LUN's is written",
                  "\t# there), so the initramfs builds the root map from its first path on and never claims",
                  "\t# another disk by chance.",
                  "\tfind_multipaths strict"]
    else:
        lines += ["\t# yes: a map for a WWID seen on two paths (the WWID is not known in advance here).",
                  "\tfind_multipaths yes"]
    lines += ["\t# Both storage networks carry I/O (one path group): 'multipath -ll' shows two active paths.",
              "\tpath_grouping_policy multibus",
              "\t# A dead path's I/O goes to the other path after 5 s: multipathd writes this to the iSCSI",
              "\t# session's recovery_tmo (replacement_timeout; open-iscsi README 8.1, 5 to 15 s).",
              "\tfast_io_fail_tmo 5",
              "\tpolling_interval 5",
              "}",
              "# Local disks of the guest are never paths of a map.",
              "blacklist {"]
    lines += ['\tdevnode "%s"' % regex for regex in BLACKLIST]
    lines += ["}"]
    queue = ["\t# The root file system: when every path is down, I/O waits for a path to come back",
             "\t# instead of failing (a failed write remounts / read-only or stops the system). This is",
             "\t# the long timeout of an iSCSI root (open-iscsi README 8.2), held by the map, not a path.",
             "\tno_path_retry queue"]
    if wwid:
        lines += ["multipaths {", "\tmultipath {", '\t\twwid "%s"' % wwid, '\t\talias "%s"' % alias]
        lines += ["\t" + ln for ln in queue] + ["\t}", "}"]
    else:
        lines += ["overrides {"] + queue + ["}"]
    return "\n".join(lines) + "\n"


def render_wwids(before, wwid):
    """``/etc/multipath/wwids`` holding ``/WWID/`` (multipath's own format); other lines kept."""
    line = "/%s/" % wwid
    if before is None:
        return ("# Multipath wwids, Version : 1.0\n# NOTE: This file is automatically maintained by "
                "multipath and multipathd.\n# You should not need to edit this file in normal "
                "circumstances.\n#\n# Valid WWIDs:\n%s\n" % line)
    if line in before.splitlines():
        return before
    return before + ("" if before.endswith("\n") or not before else "\n") + line + "\n"


PATHS_TEMPLATE = """#!/bin/sh
# Written by sanboot.lab (initramfs_iscsi). Changes here are overwritten.
# Root on dm-multipath: runs after open-iscsi's local-top/iscsi (which configured the ip= interface
# and logged in to the first portal). Configures the interfaces of the other storage networks,
# logs in to every portal that has no session yet, waits for the LUN behind each portal and builds
# the map (multipath-tools-boot's local-top/multipath does too; either order gives one map).
""" + prereqs("iscsi") + """
. /scripts/functions
[ -r /etc/iscsi.initramfs ] && . /etc/iscsi.initramfs
. /etc/initiatorname.iscsi
PORTALS=%(portals)s
PORT=${ISCSI_TARGET_PORT:-%(port)d}
LUN=%(lun)d
WAIT=%(wait)d
# klibc's sh, cat, sleep and ipconfig only (no busybox in the image): no cut, no ls
uptime_s()
{
    read -r up _rest < /proc/uptime
    echo "${up%%.*}"
}
deadline=$(( $(uptime_s) + WAIT ))
left()
{
    [ "$(uptime_s)" -lt "$deadline" ]
}

lun_seen()
{
    for d in /dev/disk/by-path/ip-"$1:$PORT"-iscsi-*-lun-"$LUN"; do
        [ -e "$d" ] && return 0
    done
    return 1
}

configure()
{
    # $1 interface, $2 address, $3 netmask: static, no gateway (the storage network is local)
    while [ ! -e "/sys/class/net/$1" ] && left; do
        sleep 1
    done
    [ -e "/run/net-$1.conf" ] || ipconfig -t 10 -d "$2::0.0.0.0:$3::$1:off" >/dev/null ||
        log_failure_msg "sanboot: could not configure $1 ($2)"
}
%(configure)s
has_session()
{
    for c in /sys/class/iscsi_connection/connection*; do
        [ "$(cat "$c/persistent_address" 2>/dev/null)" = "$1" ] && return 0
    done
    return 1
}

modprobe iscsi_tcp
for portal in $PORTALS; do
    while ! has_session "$portal" && left; do
        iscsistart -i "$InitiatorName" -t "$ISCSI_TARGET_NAME" -g "${ISCSI_TARGET_GROUP:-1}" \\
            -a "$portal" -p "$PORT" \\
            ${ISCSI_USERNAME:+-u "$ISCSI_USERNAME"} ${ISCSI_PASSWORD:+-w "$ISCSI_PASSWORD"} \\
            ${ISCSI_IN_USERNAME:+-U "$ISCSI_IN_USERNAME"} ${ISCSI_IN_PASSWORD:+-W "$ISCSI_IN_PASSWORD"} \\
            || sleep 2
    done
done
for portal in $PORTALS; do
    while ! lun_seen "$portal" && left; do
        udevadm settle --timeout=2 || sleep 1
    done
    has_session "$portal" || log_failure_msg "sanboot: no iSCSI session to $portal:$PORT"
done
udevadm settle --timeout=10 || true
if [ -x /sbin/multipath ]; then
    modprobe dm-multipath
    /sbin/multipath -v0
    udevadm settle --timeout=10 || true
fi
exit 0
"""


def render_paths_script(req):
    configure = "".join("configure %s %s %s\n" % (i["interface"], i["address"], i["netmask"])
                        for i in req["multipath_interfaces"])
    return PATHS_TEMPLATE % dict(portals=shlex.quote(" ".join(req["portals"])),
                                 port=int(req.get("port", 3260)), lun=int(req.get("lun", 1)),
                                 wait=int(req["multipath_wait"]), configure=configure)


def stock_portals(req):
    """The addresses ``local-top/iscsi`` logs in to: only the first one with multipath (the others
    are on networks that are not configured yet when it runs)."""
    return req["portals"][:1] if req.get("multipath") else req["portals"]
