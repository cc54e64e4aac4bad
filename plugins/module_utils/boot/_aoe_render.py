# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files of ``initramfs_aoe``, rendered from a checked request (private, pure).

Read against initramfs-tools 0.142 (Debian bookworm), aoetools 36 and the Linux aoe driver
(Documentation/admin-guide/aoe/aoe.rst):

* ``mkinitramfs`` sources every ``/etc/initramfs-tools/conf.d/*`` file and copies it to
  ``/conf/conf.d/`` in the initramfs before it runs the hooks; ``init`` sources them too, but
  does not export their variables, so the local-top script sources its file itself;
* local-top scripts run as child processes of ``init`` after udev has loaded the NIC drivers and
  before ``init`` waits for ``root=``; ``/run`` is moved into the booted system;
* ``modprobe aoe aoe_iflist="eth0 eth1"`` restricts the driver to those interfaces (kmod quotes
  a parameter value holding blanks); ``/dev/etherd/interfaces`` sets the list when the driver
  was loaded already; any write to ``/dev/etherd/discover`` broadcasts an AoE Query Config (all
  that aoetools' ``aoe-discover`` does); the driver names the disk ``etherd/e<shelf>.<slot>``
  and devtmpfs creates ``/dev/etherd/e<shelf>.<slot>``;
* the initramfs of a system without busybox has klibc's tools only (no ``ip``): the hook copies
  iproute2's ``ip`` when the image has one, and the script otherwise sets ``IFF_UP`` through the
  writable ``/sys/class/net/IFACE/flags``.

The script itself is constant: shelf, slot, interfaces and timeout come from the conf file
(values ``shlex.quote``d; ``_aoe_root.normalise`` allows only digits and interface-name
characters there) or from the kernel parameters ``sanboot_aoe=`` and ``sanboot_aoe_timeout=``.
"""

from __future__ import annotations

import shlex

from ansible_collections.sanboot.lab.plugins.module_utils.boot._scripts import prereqs

HEADER = "# Written by sanboot.lab (initramfs_aoe). Changes here are overwritten.\n"
_PREREQS = prereqs("")

HOOK_TEMPLATE = "#!/bin/sh\n" + HEADER + """\
# mkinitramfs hook: the aoe driver, the driver of the root file system (%(fstype)s), ip(8)
# (iproute2) and aoe-discover (aoetools) when the system has them, and the settings file.
""" + _PREREQS + """
# shellcheck source=/dev/null
. /usr/share/initramfs-tools/hook-functions

manual_add_modules aoe
manual_add_modules %(fstype)s
for bin in /sbin/aoe-discover /usr/sbin/aoe-discover; do
    if [ -x "$bin" ]; then
        copy_exec "$bin"
        break
    fi
done
# without ip (and without busybox) the boot script sets IFF_UP through sysfs instead
for bin in /sbin/ip /usr/sbin/ip /bin/ip /usr/bin/ip; do
    if [ -x "$bin" ]; then
        copy_exec "$bin" /sbin/ip
        break
    fi
done
# mkinitramfs copied conf.d/sanboot-aoe to /conf/conf.d already; make sure it is there
conf="${CONFDIR:-/etc/initramfs-tools}/conf.d/sanboot-aoe"
if [ ! -e "${DESTDIR}/conf/conf.d/sanboot-aoe" ]; then
    if [ -f "$conf" ]; then
        copy_file config "$conf" /conf/conf.d/sanboot-aoe
    else
        echo "W: sanboot-aoe: $conf is missing: the kernel command line needs sanboot_aoe=e<shelf>.<slot>" >&2
    fi
fi
exit 0
"""

SCRIPT = "#!/bin/sh\n" + HEADER + """\
# initramfs-tools local-top script: the root file system is on ATA over Ethernet (AoE).
# Brings the AoE interfaces up (AoE needs no address), loads the aoe driver for them, then
# discovers and waits at most AOE_TIMEOUT seconds for /dev/etherd/e<shelf>.<slot>,
# re-discovering every second; panics naming the device, the interfaces and the timeout.
# Settings: /conf/conf.d/sanboot-aoe (AOE_SHELF, AOE_SLOT, AOE_INTERFACES, AOE_TIMEOUT); the
# kernel parameters sanboot_aoe=e<shelf>.<slot> (or off) and sanboot_aoe_timeout=<seconds>
# override them. Leaves /run/sanboot-aoe (and /run/sanboot-boot-id) to the booted system.
""" + _PREREQS + """
# shellcheck source=/dev/null
. /scripts/functions

AOE_SHELF=""
AOE_SLOT=""
AOE_INTERFACES=""
AOE_TIMEOUT=30
if [ -f /conf/conf.d/sanboot-aoe ]; then
    # shellcheck source=/dev/null
    . /conf/conf.d/sanboot-aoe
fi

# which boot image this is, when its build appended /etc/sanboot-boot-id (a small cpio)
if [ -f /etc/sanboot-boot-id ]; then
    cat /etc/sanboot-boot-id > /run/sanboot-boot-id
fi

want=""
ip_param=""
cmdline=""
read -r cmdline < /proc/cmdline || true
set -f
for x in $cmdline; do
    case $x in
    sanboot_aoe=*) want=${x#sanboot_aoe=} ;;
    sanboot_aoe_timeout=*) AOE_TIMEOUT=${x#sanboot_aoe_timeout=} ;;
    ip=*) ip_param=${x#ip=} ;;
    esac
done
set +f

# $1: a decimal number without leading zeros, at most $2
number()
{
    case $1 in
    ""|*[!0-9]*|0?*) return 1 ;;
    esac
    [ "${#1}" -le 5 ] && [ "$1" -le "$2" ]
}

case $want in
"") ;;
off)
    log_warning_msg "sanboot-aoe: sanboot_aoe=off: not looking for an AoE root"
    exit 0
    ;;
e*.*)
    AOE_SHELF=${want#e}
    AOE_SLOT=${AOE_SHELF#*.}
    AOE_SHELF=${AOE_SHELF%%.*}
    ;;
*)
    panic "sanboot-aoe: sanboot_aoe=$want is not e<shelf>.<slot> (or off)"
    exit 1
    ;;
esac
if ! number "$AOE_SHELF" 65534 || ! number "$AOE_SLOT" 254; then
    panic "sanboot-aoe: AoE address e$AOE_SHELF.$AOE_SLOT is not e<0-65534>.<0-254> (AOE_SHELF and\
 AOE_SLOT in /etc/initramfs-tools/conf.d/sanboot-aoe, or sanboot_aoe=e<shelf>.<slot>)"
    exit 1
fi
if ! number "$AOE_TIMEOUT" 600 || [ "$AOE_TIMEOUT" -lt 1 ]; then
    panic "sanboot-aoe: sanboot_aoe_timeout=$AOE_TIMEOUT is not 1-600 seconds"
    exit 1
fi
dev="/dev/etherd/e$AOE_SHELF.$AOE_SLOT"

link_up()
{
    if command -v ip >/dev/null 2>&1; then
        ip link set "$1" up
    else
        # neither iproute2 nor busybox in this initramfs: set IFF_UP (0x1) through sysfs
        flags=$(cat "/sys/class/net/$1/flags") && echo $((flags | 1)) > "/sys/class/net/$1/flags"
    fi
}

discover()
{
    if command -v aoe-discover >/dev/null 2>&1; then
        aoe-discover >/dev/null 2>&1
    elif [ -c /dev/etherd/discover ]; then
        # what aoe-discover does: any write broadcasts an AoE Query Config
        { echo > /dev/etherd/discover; } 2>/dev/null
    fi
}

log_begin_msg "sanboot-aoe: waiting up to $AOE_TIMEOUT seconds for $dev on ${AOE_INTERFACES:-every interface}"
if [ -n "$AOE_INTERFACES" ]; then
    modprobe aoe aoe_iflist="$AOE_INTERFACES"
else
    modprobe aoe
fi || {
    panic "sanboot-aoe: cannot load the aoe driver (modprobe aoe failed)"
    exit 1
}
# loaded before (built in) with another list: set this one
if [ -n "$AOE_INTERFACES" ] && [ -c /dev/etherd/interfaces ]; then
    { echo "$AOE_INTERFACES" > /dev/etherd/interfaces; } 2>/dev/null
fi

up=""
waited=0
while :; do
    missing=""
    names="$AOE_INTERFACES"
    if [ -z "$names" ]; then
        for path in /sys/class/net/*; do
            [ "${path##*/}" = lo ] || names="$names ${path##*/}"
        done
    fi
    for ifc in $names; do
        if [ ! -e "/sys/class/net/$ifc" ]; then
            missing="$missing $ifc"
            continue
        fi
        case " $up " in
        *" $ifc "*) ;;
        *) link_up "$ifc" && up="$up $ifc" ;;
        esac
    done
    discover
    [ -b "$dev" ] && break
    if [ "$waited" -ge "$AOE_TIMEOUT" ]; then
        panic "sanboot-aoe: the AoE root $dev did not appear within $AOE_TIMEOUT seconds on\
 interface(s) ${AOE_INTERFACES:-any}${missing:+ (not found:$missing)}: is e$AOE_SHELF.$AOE_SLOT\
 exported (vblade) on that Ethernet segment? sanboot_aoe_timeout=<seconds> waits longer"
        [ -b "$dev" ] || exit 1
        break
    fi
    sleep 1
    waited=$((waited + 1))
done
log_end_msg
wait_for_udev 10

{
    echo "device=$dev"
    echo "shelf=$AOE_SHELF"
    echo "slot=$AOE_SLOT"
    echo "interfaces=$AOE_INTERFACES"
    echo "timeout_seconds=$AOE_TIMEOUT"
    echo "waited_seconds=$waited"
} > /run/sanboot-aoe

# ip= on the kernel command line: configure it as initramfs-tools does (ipconfig), so that the
# booted system keeps the address (/run/net-IFACE.conf)
case $ip_param in
""|off|none) ;;
*) configure_networking ;;
esac
exit 0
"""


def render_hook(req):
    """``/etc/initramfs-tools/hooks/sanboot-aoe`` (run by mkinitramfs)."""
    return HOOK_TEMPLATE % {"fstype": req["root_fstype"]}


def render_script():
    """``/etc/initramfs-tools/scripts/local-top/sanboot-aoe`` (constant: settings come from the
    conf file and the kernel command line)."""
    return SCRIPT


def render_conf(req):
    """``/etc/initramfs-tools/conf.d/sanboot-aoe``, sourced by mkinitramfs and the initramfs."""
    values = (("AOE_SHELF", str(req["shelf"])), ("AOE_SLOT", str(req["slot"])),
              ("AOE_INTERFACES", " ".join(req["interfaces"])), ("AOE_TIMEOUT", str(req["timeout"])))
    return (HEADER + "# Root file system on the AoE device e%d.%d, read by scripts/local-top/"
            "sanboot-aoe in the initramfs;\n# the kernel parameters sanboot_aoe=e<shelf>.<slot> "
            "and sanboot_aoe_timeout=<seconds> override it.\n" % (req["shelf"], req["slot"])
            + "".join("%s=%s\n" % (k, shlex.quote(v)) for k, v in values))
