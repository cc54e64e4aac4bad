# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thick LVM logical volumes made to be exported as LUNs (private logic of ``lvm_lun``).

read (``vgs``/``lvs --reportformat json --units b --nosuffix``) -> plan (pure) -> apply.
community.general has no LVM module_utils (its ``lvol``/``lvg`` modules keep their code inside),
so the few commands needed here go through the collection's Runner.

Rules: sizes are rounded UP to whole extents (``lvcreate -L`` would round too, silently); a volume
grows with ``lvextend`` and never shrinks (shrinking would cut off the end of a LUN whose
filesystem the initiator owns); removal is refused while the volume is mounted, open (``lv_attr``
character 6 is ``o``: lvs(8)) or exported by this collection's ``iscsi_target``/``aoe_export``,
unless ``force``.  Only thick (linear/striped) volumes: thin pools and thin volumes are refused.
"""

from __future__ import annotations

import json
import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError
from ansible_collections.sanboot.lab.plugins.module_utils.common._stores import (
    StoreError, describe as describe_export, exports_of)
from ansible_collections.sanboot.lab.plugins.module_utils.common._units import format_size

LV_FIELDS = "vg_name,lv_name,lv_size,lv_attr,lv_path,lv_kernel_major,lv_kernel_minor,segtype"
VG_FIELDS = "vg_name,vg_extent_size,vg_free,vg_size"
REPORT = ["--reportformat", "json", "--units", "b", "--nosuffix"]


# lvm(8) VALID NAMES: a-z A-Z 0-9 + _ . -, not starting with '-', not '.' or '..'; an LV name does
# not start with "snapshot" or "pvmove" nor contain the suffixes LVM keeps for its hidden volumes
_NAME = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}\Z")
_RESERVED = ("_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage",
             "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig")


def check_names(vg, name):
    """PlanError naming ``vg`` or ``name`` when LVM's naming rules (lvm(8)) refuse it; checked
    before any LVM command runs (a leading '-' would reach vgs/lvcreate as an option)."""
    for what, value in (("vg", vg), ("name", name)):
        if not isinstance(value, str) or not _NAME.match(value) or value in (".", ".."):
            raise PlanError("%s: %r is not a valid LVM name (1-127 characters of a-z A-Z 0-9 + _ "
                            ". -, not starting with '-', not '.' or '..'; no '/', blanks or control "
                            "characters; lvm(8) VALID NAMES)" % (what, value), option=what)
    if name.startswith(("snapshot", "pvmove")):
        raise PlanError("name: %r starts with %r, which LVM reserves (lvm(8))"
                        % (name, "snapshot" if name.startswith("snapshot") else "pvmove"), option="name")
    for suffix in _RESERVED:
        if suffix in name:
            raise PlanError("name: %r contains %r, which LVM reserves for hidden volumes (lvm(8))"
                            % (name, suffix), option="name")


class LV(object):
    def __init__(self, vg, name, size, attr, path="", major=-1, minor=-1, segtype="linear"):
        self.vg, self.name, self.size, self.attr = vg, name, int(size), attr
        self.path = path or "/dev/%s/%s" % (vg, name)
        self.major, self.minor, self.segtype = int(major), int(minor), segtype

    @property
    def open(self):
        return len(self.attr) > 5 and self.attr[5] == "o"

    @property
    def thin(self):
        return self.segtype in ("thin", "thin-pool") or self.attr[:1] in ("t", "V")


def _report(text, key):
    """Rows of an LVM JSON report (``json`` gives strings, ``json_std`` numbers)."""
    data = json.loads(text or "{}")
    rows = []
    for part in data.get("report", []):
        rows.extend(part.get(key, []))
    return rows


def parse_vgs(text):
    """``{vg_name: dict(extent_size, free, size)}`` from ``vgs`` JSON."""
    return dict((r["vg_name"], dict(extent_size=int(r["vg_extent_size"]), free=int(r["vg_free"]),
                                    size=int(r["vg_size"])))
                for r in _report(text, "vg"))


def parse_lvs(text):
    """``{lv_name: LV}`` from ``lvs`` JSON."""
    out = {}
    for r in _report(text, "lv"):
        out[r["lv_name"]] = LV(r["vg_name"], r["lv_name"], r["lv_size"], r["lv_attr"],
                               r.get("lv_path", ""), r.get("lv_kernel_major", -1) or -1,
                               r.get("lv_kernel_minor", -1) or -1, r.get("segtype", "linear"))
    return out


def vgs_argv(vg):
    return ["vgs"] + REPORT + ["-o", VG_FIELDS, vg]


def lvs_argv(vg):
    return ["lvs"] + REPORT + ["-o", LV_FIELDS, vg]


def round_up(size, extent):
    """``size`` bytes rounded up to a whole number of ``extent``-byte extents."""
    return -(-size // extent) * extent


def read_mountinfo(path="/proc/self/mountinfo"):
    with open(path) as f:
        return f.read()


def mounted_at(mountinfo_text, major, minor):
    """Mount points of device ``major:minor`` in a ``/proc/self/mountinfo`` text."""
    if major < 0:
        return []
    want = "%d:%d" % (major, minor)
    out = []
    for line in mountinfo_text.splitlines():
        f = line.split()
        if len(f) > 4 and f[2] == want:
            out.append(f[4].replace("\\040", " "))
    return out


def exporters(device, run, tgtadm=None, **where):
    """Who exports ``device``: one line per export that every tgtd and every vblade of the host
    serve from the same store (``_stores.exports_of``: one identity for hard links, symlinks and
    device nodes).  ``run(argv) -> (rc, out, err)``; PlanError when they cannot be asked."""
    try:
        return [describe_export(e) for e in exports_of(device, run, tgtadm, **where)]
    except StoreError as e:
        raise PlanError("state=absent: cannot tell whether %s is exported: %s" % (device, e), option="state")


class Plan(object):
    """What to do: ``argv`` (list of commands), predicted ``size_bytes``, rounding facts."""

    def __init__(self):
        self.argv, self.size_bytes, self.rounded_from, self.messages = [], 0, None, []


def plan(vg, name, state, vg_info, lvs, size=None, wipe_signatures=True, force=False,
         mounts=(), exported=()):
    """Plan ``vg/name``; raise PlanError for refused requests.

    ``vg_info`` is ``parse_vgs()[vg]`` (None: the VG does not exist), ``lvs`` ``parse_lvs()``;
    ``mounts``/``exported`` describe users of the existing LV (only checked for removal).
    """
    if vg_info is None:
        raise PlanError("vg: volume group %r does not exist (create it first, e.g. with "
                        "community.general.lvg)" % vg, option="vg")
    p = Plan()
    lv = lvs.get(name)
    full = "%s/%s" % (vg, name)
    if lv is not None and lv.thin:
        raise PlanError("name: %s is a thin volume or pool (segtype %s); lvm_lun manages thick "
                        "volumes only" % (full, lv.segtype), option="name")
    if state == "absent":
        if lv is None:
            return p
        users = ["mounted on %s" % m for m in mounts] + ["exported as %s" % e for e in exported]
        if lv.open and not mounts:
            users.append("open (lv_attr %s)" % lv.attr)
        if users and not force:
            raise PlanError("state=absent: refusing to remove %s: it is %s; stop using it or set "
                            "force=true" % (full, "; ".join(users)), option="state")
        p.argv.append(["lvremove", "-y", full])
        p.size_bytes = 0
        return p
    if size is None:
        raise PlanError("size: required with state=present", option="size")
    extent = vg_info["extent_size"]
    want = round_up(size, extent)
    if want <= 0:
        raise PlanError("size: must be at least one extent (%s)" % format_size(extent), option="size")
    p.rounded_from = size
    if want != size:
        p.messages.append("size: %d bytes rounded up to %d bytes (%d extents of %s)"
                          % (size, want, want // extent, format_size(extent)))
    if lv is None:
        grow = want
        p.argv.append(["lvcreate", "-L", "%db" % want, "-n", name,
                       "--wipesignatures", "y" if wipe_signatures else "n", "--yes", vg])
    elif lv.size > want:
        raise PlanError("size: %s (%d bytes) is smaller than the current %d bytes of %s; lvm_lun "
                        "never shrinks a volume (it would cut off the end of the LUN)"
                        % (format_size(want), want, lv.size, full), option="size")
    else:
        grow = want - lv.size
        if grow:
            p.argv.append(["lvextend", "-L", "%db" % want, full])
    if p.argv and grow > vg_info["free"]:
        raise PlanError("size: %s needs %d more bytes but volume group %s has only %d free"
                        % (format_size(want), grow, vg, vg_info["free"]), option="size")
    p.size_bytes = want
    return p


def with_test_flag(argv):
    """The same LVM command with ``--test`` (check mode: LVM validates, writes no metadata)."""
    return [argv[0], "--test"] + argv[1:]


def describe(lv):
    """Diff text of one volume (or its absence)."""
    if lv is None:
        return "absent\n"
    return "device: %s\nsize_bytes: %d\n" % (lv.path, lv.size)
