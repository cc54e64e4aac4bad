# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root on iSCSI through open-iscsi's initramfs-tools hook (private logic of ``initramfs_iscsi``).

What the boot needs, as read in open-iscsi 2.1.8 (Debian bookworm), initramfs-tools 0.142 and
lvm2 2.03.16:

* ``hooks/iscsi`` copies ``/etc/iscsi/initiatorname.iscsi`` and ``/etc/iscsi/iscsi.initramfs``
  into the initramfs at ``update-initramfs`` time;
* ``scripts/local-top/iscsi`` sources ``/etc/iscsi.initramfs`` (shell: ``ISCSI_TARGET_NAME``,
  ``ISCSI_TARGET_IP`` -- several addresses separated by spaces, one ``iscsistart`` login each --,
  ``ISCSI_TARGET_PORT`` (one port for all), ``ISCSI_TARGET_GROUP``, ``ISCSI_USERNAME``,
  ``ISCSI_PASSWORD``, ``ISCSI_IN_USERNAME``, ``ISCSI_IN_PASSWORD``, or ``ISCSI_AUTO=true`` for
  iBFT) and then reads lower-case ``iscsi_*`` kernel parameters, which override the file;
* lvm2 has no ``local-top`` script any more: volume groups are activated by udev events
  (``69-lvm.rules``), and the initramfs waits for ``root=`` in ``local_device_setup``.
  The settle script written here is a ``local-top`` script with ``PREREQ="iscsi"``: it runs after
  the iSCSI login and before the wait for the root device, waits for udev to settle and for the
  root device for at most ``lvm_settle_delay`` seconds, and activates volume groups itself
  (``lvm vgchange -aay --sysinit``, the classic ``activate_vg``) when the root device is still
  missing then.

Addresses are checked with the standard library's ``ipaddress`` rather than netaddr: this module
runs inside guest images, which should not need an extra Python package for it.

The secrets stay in the file (mode 0600), never on the kernel command line (``/proc/cmdline`` is
world-readable): ``kernel_cmdline`` carries only ``ip=``, ``root=`` and ``clocksource=``.

Every file below ``root`` is read, written and removed through ``_files`` (``read_in``,
``write_in``, ``remove_in``): no symlink planted in an image can lead a read, a write or a mode
change outside it (refused, naming ``root``, while planning: before anything is written), and
the 0600 secret file has its mode from the moment it is created.  A string option that reaches
a rendered file or the kernel command line may not hold control characters or line breaks, and
the kernel command line words (``root_device``, ``ip``, ``clocksource``) no blanks, quotes or
shell characters either.
"""

from __future__ import annotations

import glob
import os
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._chap import checked_name, normalise as normalise_chap
from ansible_collections.sanboot.lab.plugins.module_utils.boot._cmdline import (
    IFNAME, RequestError, ip_address, ip_param, one_line, root_param)
from ansible_collections.sanboot.lab.plugins.module_utils.common._files import (
    UnsafePath, list_in, read_in, remove_in, write_in)
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _multipath_root as mp
from ansible_collections.sanboot.lab.plugins.module_utils.boot._render import (
    HEADER, comment_interface, initiator_in, render_initiator, render_iscsi_conf, render_networkd,
    render_nm, render_settle, render_wait_online)

ISCSI_CONF = "etc/iscsi/iscsi.initramfs"
INITIATOR_FILE = "etc/iscsi/initiatorname.iscsi"
SETTLE_SCRIPT = "etc/initramfs-tools/scripts/local-top/sanboot_lvm_settle"
UMASK_CONF = "etc/initramfs-tools/conf.d/sanboot-iscsi-umask"
IFUPDOWN_FILE = "etc/network/interfaces"
IFUPDOWN_DIR = "etc/network/interfaces.d"
NETWORKD_FILE = "etc/systemd/network/05-sanboot-%s.network"
WAIT_ONLINE_FILE = "etc/systemd/system/systemd-networkd-wait-online.service.d/sanboot-iscsi-root.conf"
NM_FILE = "etc/NetworkManager/conf.d/90-sanboot-%s.conf"
NETWORKD_BINS = ("lib/systemd/systemd-networkd", "usr/lib/systemd/systemd-networkd")
NM_BINS = ("usr/sbin/NetworkManager",)
REQUIRED = (
    ("initramfs-tools", ("usr/sbin/update-initramfs", "sbin/update-initramfs")),
    ("open-iscsi", ("usr/share/initramfs-tools/hooks/iscsi",)),
    ("open-iscsi (iscsistart)", ("usr/sbin/iscsistart", "sbin/iscsistart")),
)


class FileChange(object):
    """One file of ``root``: ``after is None`` means it must not exist."""

    def __init__(self, rel, before, after, mode=0o644, before_mode=None):
        self.rel, self.before, self.after = rel, before, after
        self.mode, self.before_mode = mode, before_mode

    @property
    def changed(self):
        if self.after is None:
            return self.before is not None
        return self.before != self.after or self.before_mode != self.mode


# ---- validation -----------------------------------------------------------------------------

def _iqn(value, what, warnings):
    return checked_name(value, what, warnings)


def _chap(chap, warnings):
    for key, value in sorted((chap or {}).items()):
        if isinstance(value, str) and re.search(r"[\x00-\x1f\x7f]", value):
            # the value is not repeated: a secret's escaped form would escape no_log's masking
            raise RequestError("chap.%s: contains a control character or a line break; the "
                               "shell-sourced iscsi.initramfs cannot carry it" % key, option="chap.%s" % key)
    return normalise_chap(chap, "chap", warnings, tokens=False) or {}


def normalise(params):
    """Check the module parameters; return ``(request, warnings)`` or raise RequestError."""
    warnings = []
    for key in ("root", "target", "initiator_name", "root_device", "clocksource",
                "boot_interface", "multipath_alias", "multipath_wwid"):
        one_line(params.get(key), key)
    for key in ("portals", "kernels"):
        for i, value in enumerate(params.get(key) or []):
            one_line(value, "%s[%d]" % (key, i))
    req = dict(params)
    firmware = bool(params.get("firmware"))
    portals = params.get("portals") or []
    if firmware:
        for key in ("target", "portals", "chap"):
            if params.get(key):
                raise RequestError("%s: not allowed with firmware=true (iBFT supplies target, "
                                   "portal and CHAP; open-iscsi runs 'iscsistart -b')" % key, option=key)
    else:
        if not params.get("target"):
            raise RequestError("target: required unless firmware=true", option="target")
        if not portals:
            raise RequestError("portals: at least one portal address is required unless "
                               "firmware=true", option="portals")
    if params.get("target"):
        req["target"] = _iqn(params["target"], "target", warnings)
    if params.get("initiator_name"):
        req["initiator_name"] = _iqn(params["initiator_name"], "initiator_name", warnings)
    addrs = []
    for i, p in enumerate(portals):
        addr = ip_address(p, "portals[%d] (an address; the port is the option port)" % i)
        if str(addr) in addrs:
            raise RequestError("portals[%d]: %s is listed twice" % (i, addr), option="portals[%d]" % i)
        addrs.append(str(addr))
    req["portals"] = addrs
    port = params.get("port", 3260)
    if not 1 <= int(port) <= 65535:
        raise RequestError("port: %r is not 1-65535" % port, option="port")
    lun = int(params.get("lun", 1))
    if not 0 <= lun <= 16383:
        raise RequestError("lun: %r is not 0-16383 (SAM flat addressing)" % lun, option="lun")
    req["chap"] = _chap(params.get("chap"), warnings)
    delay = int(params.get("lvm_settle_delay") or 0)
    if not 0 <= delay <= 600:
        raise RequestError("lvm_settle_delay: %r seconds is not 0-600" % delay, option="lvm_settle_delay")
    req["lvm_settle_delay"] = delay
    cs = params.get("clocksource")
    if cs and not re.match(r"^[a-z0-9_-]+\Z", cs):
        raise RequestError("clocksource: %r is not a clock source name (e.g. jiffies, tsc, xen)"
                           % cs, option="clocksource")
    iface = params.get("boot_interface")
    if iface and not IFNAME.match(iface):
        raise RequestError("boot_interface: %r is not an interface name (1-15 characters of "
                           "A-Z a-z 0-9 _ . -)" % iface, option="boot_interface")
    ip = params.get("ip")
    if ip is None and not firmware:
        ip = "dhcp"
    req["ip_param"] = ip_param(ip, iface)
    req["root_param"] = root_param(mp.normalise(params, req), req, firmware)
    kernels = params.get("kernels") or ["all"]
    if "all" in kernels and len(kernels) > 1:
        raise RequestError("kernels: 'all' cannot be combined with versions", option="kernels")
    req["kernels"] = kernels
    return req, warnings


# ---- reading the root and planning ----------------------------------------------------------

def rpath(root, rel):
    return os.path.join(root, rel.lstrip("/"))


def _contained(call, root, *args):
    try:
        return call(root, *args)
    except UnsafePath as exc:
        raise RequestError("root: %s" % exc, option="root")


def read_file(root, rel):
    """``(text, mode)`` of ``root/rel`` or ``(None, None)`` when it does not exist; RequestError
    naming ``root`` when a symlink in the way could lead outside the image."""
    return _contained(read_in, root, rel)


def check_root(root, multipath=False):
    """Errors for a root without the packages a root on iSCSI (and on multipath) needs."""
    errors = []
    if not os.path.isdir(root):
        return ["root: %s is not a directory" % root]
    for pkg, paths in REQUIRED + (mp.REQUIRED if multipath else ()):
        if not any(os.path.exists(rpath(root, p)) for p in paths):
            errors.append("root: %s is not installed in %s (missing %s)"
                          % (pkg, root, " or ".join("/" + p for p in paths)))
    return errors


def installed_kernels(root):
    """Versions with both ``/boot/vmlinuz-V`` and ``/lib/modules/V`` in root, sorted."""
    out = []
    for path in glob.glob(rpath(root, "boot/vmlinuz-*")):
        ver = os.path.basename(path)[len("vmlinuz-"):]
        if os.path.isdir(rpath(root, "lib/modules/%s" % ver)):
            out.append(ver)
    return sorted(out)


def select_kernels(requested, installed, root):
    if not installed:
        raise RequestError("root: no kernel in %s (need /boot/vmlinuz-VERSION and "
                           "/lib/modules/VERSION; install linux-image-*)" % root, option="root")
    if requested == ["all"]:
        return list(installed)
    missing = [k for k in requested if k not in installed]
    if missing:
        raise RequestError("kernels: %s not installed in %s (installed: %s)"
                           % (", ".join(missing), root, ", ".join(installed)), option="kernels")
    return list(requested)


def _ifupdown_files(root):
    files = [IFUPDOWN_FILE] if read_file(root, IFUPDOWN_FILE)[0] is not None else []
    for name in _contained(list_in, root, IFUPDOWN_DIR):
        rel = os.path.join(IFUPDOWN_DIR, name)
        if re.match(r"^[A-Za-z0-9_-]+\Z", name) and read_file(root, rel)[0] is not None:
            files.append(rel)
    return files


def plan_files(req, root):
    """``(changes, warnings)``: every file this module manages, with before/after content."""
    changes, warnings = [], []

    def add(rel, after, mode):
        before, before_mode = read_file(root, rel)
        changes.append(FileChange(rel, before, after, mode, before_mode))

    add(ISCSI_CONF, render_iscsi_conf(req), 0o600)
    before, before_mode = read_file(root, INITIATOR_FILE)
    if req.get("initiator_name"):
        changes.append(FileChange(INITIATOR_FILE, before, render_initiator(
            before, req["initiator_name"]), before_mode or 0o600, before_mode))
    elif not req.get("firmware") and not initiator_in(before):
        raise RequestError("initiator_name: required, /%s in %s has no InitiatorName"
                           % (INITIATOR_FILE, root), option="initiator_name")
    umask = (HEADER + "# The initramfs holds CHAP secrets (etc/iscsi.initramfs): keep it private "
             "(initramfs.conf(5)).\nUMASK=0077\n")
    add(UMASK_CONF, umask if req.get("chap") else None, 0o644)
    delay = req.get("lvm_settle_delay") or 0
    add(SETTLE_SCRIPT, render_settle(delay) if delay else None, 0o755)
    multipath = req.get("multipath")
    conf_before = read_file(root, mp.MULTIPATH_CONF)[0]
    if multipath or (conf_before or "").startswith(mp.HEADER):
        # without multipath, only a file this module wrote is removed
        add(mp.MULTIPATH_CONF, mp.render_conf(req) if multipath else None, 0o644)
    add(mp.PATHS_SCRIPT, mp.render_paths_script(req) if multipath else None, 0o755)
    if multipath and req.get("multipath_wwid"):
        before, before_mode = read_file(root, mp.WWIDS_FILE)
        changes.append(FileChange(mp.WWIDS_FILE, before, mp.render_wwids(before, req["multipath_wwid"]),
                                  before_mode or 0o644, before_mode))
    ifaces = [req.get("boot_interface")] + [i["interface"] for i in req.get("multipath_interfaces") or []]
    _plan_interfaces(root, [i for i in ifaces if i], changes, warnings, add)
    return changes, warnings


def _plan_interfaces(root, ifaces, changes, warnings, add):
    """The network tools of ``root`` leave ``ifaces`` (configured in the initramfs) alone."""
    if not ifaces:
        return
    managers = 0
    for rel in _ifupdown_files(root):
        text, mode = read_file(root, rel)
        managers += 1
        after = text
        for iface in ifaces:
            after = comment_interface(after, iface)
        changes.append(FileChange(rel, text, after, mode, mode))
    if any(os.path.exists(rpath(root, p)) for p in NETWORKD_BINS):
        managers += 1
        for iface in ifaces:
            add(NETWORKD_FILE % iface, render_networkd(iface), 0o644)
        add(WAIT_ONLINE_FILE, render_wait_online(ifaces[0]), 0o644)
    if any(os.path.exists(rpath(root, p)) for p in NM_BINS):
        managers += 1
        for iface in ifaces:
            add(NM_FILE % iface, render_nm(iface), 0o644)
    if not managers:
        warnings.append("boot_interface: no ifupdown, systemd-networkd or NetworkManager "
                        "found in %s; nothing to tell" % root)


def diff_entry(change, root, redacted_after=None, redacted_before=None):
    path = rpath(root, change.rel)
    return {
        "before_header": path if change.before is not None else "%s (absent)" % path,
        "after_header": path if change.after is not None else "%s (absent)" % path,
        "before": redacted_before if redacted_before is not None else (change.before or ""),
        "after": redacted_after if redacted_after is not None else (change.after or ""),
    }


def write_file(root, change):
    """Apply one FileChange: ``_files.write_in`` (atomic, mode set at creation, no symlink
    followed below ``root``) or ``remove_in``."""
    if change.after is None:
        _contained(remove_in, root, change.rel)
    else:
        _contained(write_in, root, change.rel, change.after, change.mode)


def initrd_path(root, version):
    return rpath(root, "boot/initrd.img-%s" % version)


def update_argv(root, version):
    """``update-initramfs -u -k VERSION``, through ``chroot ROOT`` for an image directory."""
    argv = ["update-initramfs", "-u", "-k", version]
    if os.path.realpath(root) != "/":
        argv = ["chroot", root] + argv
    return argv


def kernels_to_rebuild(versions, files_changed, root):
    """All selected versions when a file changed, else those whose initrd is missing."""
    if files_changed:
        return list(versions)
    return [v for v in versions if not os.path.exists(initrd_path(root, v))]


def apply_plan(module, runner, root, changed_files, rebuild):
    """Write the planned files below ``root`` and rebuild the initramfs of the ``rebuild`` kernel
    versions; nothing in check mode. A failed write fails the module naming the file."""
    if module.check_mode:
        return
    done = 0
    try:
        for change in changed_files:
            write_file(root, change)
            done += 1
    except (RequestError, OSError) as e:
        module.fail_json(msg="writing /%s: %s" % (changed_files[done].rel, e), changed=done > 0)
    for version in rebuild:
        runner(update_argv(root, version), msg="update-initramfs failed for %s" % version)


def boot_files(root, versions):
    """The ``initrd`` and ``kernels`` return values of the initramfs modules."""
    return dict(initrd=[initrd_path(root, v) for v in versions],
                kernels=[dict(version=v, kernel=rpath(root, "boot/vmlinuz-%s" % v), initrd=initrd_path(root, v))
                         for v in versions])
