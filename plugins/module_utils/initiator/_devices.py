# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SCSI devices of an open-iscsi session (private), read from sysfs, and the wait for them
after a login: ``udevadm settle --timeout`` then polling sysfs until a deadline (no open-ended
sleep loop).

sysfs layout (Linux scsi_transport_iscsi): ``/sys/class/iscsi_session/session<SID>/device`` is the
session's device; below it ``target<H>:<C>:<T>/<H>:<C>:<T>:<LUN>/`` with ``type`` (SPC peripheral
device type), ``block/<sdX>`` and ``wwid`` (the VPD page 0x83 designator: ``naa.``/``eui.``/
``t10.``, turned into the ``scsi_id -g -u`` form: ``3``/``2``/``1`` + designator).
"""

from __future__ import annotations

import glob
import os
import time

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError

SYSFS = "/sys"
DEV = "/dev"
DISK_TYPES = ("0", "5", "7", "14")   # SPC-4 peripheral device types with a block device
_WWID_PREFIX = {"naa.": "3", "eui.": "2", "t10.": "1"}


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except (IOError, OSError):
        return None


def wwid_of(text):
    """sysfs ``wwid`` -> the ``scsi_id -g -u`` form (``naa.6001405...`` -> ``36001405...``)."""
    if not text:
        return ""
    for prefix, code in _WWID_PREFIX.items():
        if text.startswith(prefix):
            return code + "_".join(text[len(prefix):].split())
    return "_".join(text.split())


def by_path_links(dev=DEV):
    """``{device node: /dev/disk/by-path/name}`` of the iSCSI links udev made."""
    out = {}
    for link in sorted(glob.glob(os.path.join(dev, "disk", "by-path", "ip-*-iscsi-*-lun-*"))):
        if "-part" in os.path.basename(link):
            continue
        out[os.path.realpath(link)] = link
    return out


def session_devices(sid, sysfs=SYSFS, dev=DEV):
    """``(devices, complete)``: the disk-like SCSI devices of session ``sid`` as dicts (lun, name,
    path, by_path, wwid), and whether each has its block device (False while the session or a
    LUN's device is still missing)."""
    base = os.path.join(sysfs, "class", "iscsi_session", "session%d" % sid, "device")
    if not os.path.isdir(base):
        return [], False
    links = by_path_links(dev)
    devices, complete = [], True
    for sdev in sorted(glob.glob(os.path.join(base, "target*", "*:*:*:*"))):
        if (_read(os.path.join(sdev, "type")) or "") not in DISK_TYPES:
            continue
        blocks = sorted(os.listdir(os.path.join(sdev, "block"))) if os.path.isdir(os.path.join(sdev, "block")) else []
        if not blocks:
            complete = False
            continue
        name = blocks[0]
        path = os.path.join(dev, name)
        devices.append(dict(lun=int(os.path.basename(sdev).split(":")[-1]), name=name, path=path,
                            by_path=links.get(path, ""),
                            wwid=wwid_of(_read(os.path.join(sdev, "wwid")))))
    devices.sort(key=lambda d: d["lun"])
    return devices, complete and bool(devices)


def wait_devices(run, udevadm, sids, timeout, clock=time.monotonic, sleep=time.sleep, sysfs=SYSFS, dev=DEV):
    """Wait until every session of ``sids`` has its disks (``udevadm settle`` first, then sysfs
    every 0.2 s) or ``timeout`` seconds have passed (:class:`PlanError` naming the sessions);
    returns ``{sid: devices}``."""
    deadline = clock() + timeout
    if udevadm and sids:
        run([udevadm, "settle", "--timeout=%d" % max(1, int(timeout))], check=False)
    while True:
        found = dict((sid, session_devices(sid, sysfs, dev)) for sid in sids)
        pending = [sid for sid, (_devs, ok) in sorted(found.items()) if not ok]
        if not pending:
            if udevadm and any(not d["by_path"] for devs, _ok in found.values() for d in devs):
                run([udevadm, "settle", "--timeout=%d" % max(1, int(deadline - clock()))], check=False)
                found = dict((sid, session_devices(sid, sysfs, dev)) for sid in sids)
            return dict((sid, devs) for sid, (devs, _ok) in found.items())
        if clock() >= deadline:
            raise PlanError("wait_timeout: the SCSI disks of session(s) %s did not appear within %d "
                            "seconds after the login (%s/class/iscsi_session/session<SID>/device/"
                            "target*/*/block); does the target export a LUN to this initiator?"
                            % (", ".join(str(s) for s in pending), timeout, sysfs), option="wait_timeout")
        sleep(0.2)
