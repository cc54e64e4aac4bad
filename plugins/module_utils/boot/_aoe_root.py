# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root on ATA over Ethernet through initramfs-tools (private logic of ``initramfs_aoe``).

Three files below ``root`` (rendered in ``_aoe_render``): the hook
``/etc/initramfs-tools/hooks/sanboot-aoe`` (0755), the boot script
``/etc/initramfs-tools/scripts/local-top/sanboot-aoe`` (0755) and the settings
``/etc/initramfs-tools/conf.d/sanboot-aoe`` (0644).  They are read, written and removed through
``_files`` like ``initramfs_iscsi``'s (``_initramfs.read_file``/``write_file``): a symlink below
``root`` in the way -- the file itself or a directory -- is refused, naming ``root``, while
planning, before anything is written.  The initramfs is rebuilt with ``update-initramfs``
(``chroot ROOT`` for an image) as ``initramfs_iscsi`` does.

Addresses: the AoE shelf (major) address is 16 bits and the slot (minor) 8 bits; 0xffff and 0xff
are the broadcast addresses (AoE protocol r11, section 2.3), so a disk is e0.0 to e65534.254
(``/dev/etherd/e<shelf>.<slot>``, Linux Documentation/admin-guide/aoe/aoe.rst).  Interface names
follow the kernel's ``dev_valid_name()`` (at most 15 bytes: IFNAMSIZ 16 with the NUL), narrowed to
``A-Z a-z 0-9 _ . -`` like ``initramfs_iscsi``'s ``boot_interface``: they reach a shell-sourced
file, a module parameter and the kernel command line.  The aoe driver keeps ``aoe_iflist`` in a
1024-byte buffer (``IFLISTSZ``, drivers/block/aoe/aoenet.c).
"""

from __future__ import annotations

import glob
import os
import re

from ansible_collections.sanboot.lab.plugins.module_utils.boot._cmdline import (
    IFNAME, RequestError, ip_param, one_line)
from ansible_collections.sanboot.lab.plugins.module_utils.boot._initramfs import (
    FileChange, installed_kernels, read_file, rpath, select_kernels)
from ansible_collections.sanboot.lab.plugins.module_utils.boot._aoe_render import (
    render_conf, render_hook, render_script)

HOOK = "etc/initramfs-tools/hooks/sanboot-aoe"
SCRIPT = "etc/initramfs-tools/scripts/local-top/sanboot-aoe"
CONF = "etc/initramfs-tools/conf.d/sanboot-aoe"
FILES = ((HOOK, 0o755), (SCRIPT, 0o755), (CONF, 0o644))
MAX_SHELF = 0xFFFF - 1          # 0xffff: broadcast shelf (AoE r11 section 2.3)
MAX_SLOT = 0xFF - 1             # 0xff: broadcast slot
IFLISTSZ = 1024                 # the aoe driver's aoe_iflist buffer, NUL included
TIMEOUT_RANGE = (1, 600)
UPDATE_INITRAMFS = ("usr/sbin/update-initramfs", "sbin/update-initramfs")
AOE_MODULE = "lib/modules/%s/kernel/drivers/block/aoe/aoe.ko*"
_FSTYPE = re.compile(r"^[a-z0-9_]{1,32}\Z")


def device(shelf, slot):
    return "/dev/etherd/e%d.%d" % (shelf, slot)


# ---- validation -----------------------------------------------------------------------------

def _int(params, key, low, high, rule):
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError("%s: required, an integer %d-%d" % (key, low, high), option=key)
    if not low <= value <= high:
        raise RequestError("%s: %d is out of range %d-%d (%s)" % (key, value, low, high, rule), option=key)
    return value


def _interfaces(names):
    if not names:
        raise RequestError("interfaces: at least one interface is required (the aoe driver "
                           "listens on those only)", option="interfaces")
    out = []
    for i, name in enumerate(names):
        what = "interfaces[%d]" % i
        one_line(name, what)
        if not isinstance(name, str) or not IFNAME.match(name) or name in (".", "..") \
                or name.startswith("-"):
            raise RequestError("%s: %r is not a Linux interface name (1-15 characters of A-Z a-z "
                               "0-9 _ . -, not '.' or '..', not starting with '-'; IFNAMSIZ 16 "
                               "with the NUL)" % (what, name), option=what)
        if name == "lo":
            raise RequestError("%s: lo is the loopback interface: AoE frames sent there never "
                               "reach a target" % what, option=what)
        if name in out:
            raise RequestError("%s: %s is listed twice" % (what, name), option=what)
        out.append(name)
    if len(" ".join(out)) >= IFLISTSZ:
        raise RequestError("interfaces: %d characters joined; the aoe driver's aoe_iflist holds "
                           "at most %d" % (len(" ".join(out)), IFLISTSZ - 1), option="interfaces")
    return out


def normalise(params):
    """Check the module parameters; return the request or raise RequestError (naming the
    option) before anything is read or written."""
    for key in ("root", "root_fstype"):
        one_line(params.get(key), key)
    for i, value in enumerate(params.get("kernels") or []):
        one_line(value, "kernels[%d]" % i)
    req = dict(params)
    req["state"] = params.get("state") or "present"
    kernels = params.get("kernels") or ["all"]
    if "all" in kernels and len(kernels) > 1:
        raise RequestError("kernels: 'all' cannot be combined with versions", option="kernels")
    req["kernels"] = kernels
    if req["state"] == "absent":
        return req
    req["shelf"] = _int(params, "shelf", 0, MAX_SHELF, "the AoE shelf address is 16 bits and "
                        "0xffff is the broadcast shelf: AoE protocol r11 section 2.3, aoe.txt")
    req["slot"] = _int(params, "slot", 0, MAX_SLOT, "the AoE slot address is 8 bits and 0xff is "
                       "the broadcast slot: AoE protocol r11 section 2.3, aoe.txt")
    req["timeout"] = _int(params, "timeout", TIMEOUT_RANGE[0], TIMEOUT_RANGE[1],
                          "seconds the initramfs waits for the disk")
    req["interfaces"] = _interfaces(params.get("interfaces") or [])
    fstype = params.get("root_fstype") or "ext4"
    if not _FSTYPE.match(fstype):
        raise RequestError("root_fstype: %r is not a file system type name (a-z 0-9 _, such as "
                           "ext4 or xfs; also the name of its kernel module)" % fstype, option="root_fstype")
    req["root_fstype"] = fstype
    req["ip_param"] = ip_param(params.get("ip"), None)
    req["device"] = device(req["shelf"], req["slot"])
    return req


def kernel_cmdline(req):
    """The parameters the boot loader or hypervisor passes: ``root=``, ``rootfstype=``, ``ro``
    and ``ip=`` when asked for; the AoE address is in the initramfs (conf file)."""
    if req["state"] == "absent":
        return []
    out = ["root=" + req["device"], "rootfstype=" + req["root_fstype"], "ro"]
    if req.get("ip_param"):
        out.append(req["ip_param"])
    return out


# ---- the image --------------------------------------------------------------------------------

def check_root(root):
    """Errors for a root that is not a directory or has no initramfs-tools."""
    if not os.path.isdir(root):
        return ["root: %s is not a directory" % root]
    if not any(os.path.exists(rpath(root, p)) for p in UPDATE_INITRAMFS):
        return ["root: initramfs-tools is not installed in %s (missing %s)"
                % (root, " or ".join("/" + p for p in UPDATE_INITRAMFS))]
    return []


def _inside(root, path):
    """``path`` resolves to somewhere inside ``root`` (a merged-/usr image's relative
    ``lib -> usr/lib`` does; an absolute link would lead to the host's files)."""
    top = os.path.realpath(root)
    return (os.path.realpath(path) + os.sep).startswith(top.rstrip(os.sep) + os.sep)


def has_aoe_driver(root, version):
    """The kernel ``version`` in ``root`` has the aoe driver (CONFIG_ATA_OVER_ETH): a module
    ``aoe.ko*`` or built in (``modules.builtin``); only files inside ``root`` count."""
    if any(_inside(root, p) for p in glob.glob(rpath(root, AOE_MODULE % version))):
        return True
    builtin = rpath(root, "lib/modules/%s/modules.builtin" % version)
    if not (os.path.isfile(builtin) and _inside(root, builtin)):
        return False
    with open(builtin, encoding="utf-8", errors="replace") as handle:
        return any(line.rstrip().endswith("/aoe.ko") for line in handle)


def select(req, root):
    """The kernel versions to build initramfs images for; RequestError naming ``kernels`` when
    one of them has no aoe driver.  ``state=absent`` in a root without a kernel: none."""
    installed = installed_kernels(root)
    if req["state"] == "absent" and not installed:
        return []
    versions = select_kernels(req["kernels"], installed, root)
    if req["state"] == "present":
        lacking = [v for v in versions if not has_aoe_driver(root, v)]
        if lacking:
            raise RequestError("kernels: %s in %s has no aoe driver (no %s, not in modules.builtin; "
                               "CONFIG_ATA_OVER_ETH)" % (", ".join(lacking), root, AOE_MODULE % lacking[0]),
                               option="kernels")
    return versions


def plan_files(req, root):
    """Every file this module manages, as ``_initramfs.FileChange`` (``after`` None: absent)."""
    present = req["state"] == "present"
    content = {HOOK: render_hook, SCRIPT: lambda r: render_script(), CONF: render_conf}
    changes = []
    for rel, mode in FILES:
        before, before_mode = read_file(root, rel)
        after = content[rel](req) if present else None
        changes.append(FileChange(rel, before, after, mode, before_mode))
    return changes
