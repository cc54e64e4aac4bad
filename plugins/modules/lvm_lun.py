#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: lvm_lun
short_description: A thick LVM logical volume made to be exported as a LUN
version_added: 0.1.0
description:
  - Creates, grows or removes a thick (linear) logical volume in an existing volume group, for use as
    the backing store of an iSCSI LUN (M(sanboot.lab.iscsi_target)) or an AoE export
    (M(sanboot.lab.aoe_export)).
  - The size is rounded up to whole extents of the volume group and the rounding is reported.
  - A volume only grows (C(lvextend)); a smaller O(size) is an error, because shrinking would cut off
    the end of a disk whose contents belong to the initiator.
  - Removal is refused while the volume is mounted (C(/proc/self/mountinfo)), open (C(lv_attr)
    character 6 is C(o), see lvs(8)) or the backing store of a LUN of any running tgtd (every
    control port) or of any running vblade export, unless O(force=true). A hard link, a symlink or
    another device node of the volume counts as the volume. When an exporter cannot be asked (a
    tgtd that does not answer C(tgtadm)), the removal is refused rather than guessed. LVM itself
    still refuses to remove an open volume.
  - Check mode runs the same C(lvcreate), C(lvextend) or C(lvremove) with LVM's own C(--test) (LVM
    checks the request and writes no metadata).
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - lvm2 (C(vgs), C(lvs), C(lvcreate), C(lvextend), C(lvremove)) and device-mapper in the kernel
attributes:
  check_mode:
    description: Runs the LVM command with C(--test); LVM writes no metadata.
    support: full
  diff_mode:
    description: Returns the before and after content of every file or volume it changes.
    support: full
options:
  vg:
    description:
      - Name of the existing volume group; a missing one is an error.
      - LVM's naming rules (lvm(8)) are checked before any command runs - 1-127 characters of
        C(a-z A-Z 0-9 + _ . -), not starting with C(-), not C(.) or C(..).
    type: str
    required: true
  name:
    description:
      - Name of the logical volume, checked like O(vg); names LVM reserves (starting with
        C(snapshot) or C(pvmove), or containing C(_tmeta), C(_rimage) and the like) are refused.
    type: str
    required: true
  size:
    description:
      - Size in bytes (an integer) or with a unit, C(K M G T P) or C(KiB MiB GiB TiB PiB) (1024-based,
        as LVM reads them) or C(KB MB GB TB PB) (1000-based). Rounded up to whole extents. Zero is
        refused.
      - Required with O(state=present).
    type: str
  state:
    description: Whether the volume exists.
    type: str
    choices: [present, absent]
    default: present
  wipe_signatures:
    description: Wipe file system, RAID and partition signatures found at the start of a new volume
      (C(lvcreate --wipesignatures y)), so that an old disk label does not reappear in the LUN.
    type: bool
    default: true
  force:
    description: Remove the volume although it is mounted, open or exported (LVM still refuses an
      open volume).
    type: bool
    default: false
seealso:
  - module: sanboot.lab.iscsi_target
    description: Export the logical volume as an iSCSI LUN.
  - module: sanboot.lab.aoe_export
    description: Export the logical volume over ATA over Ethernet.
"""

EXAMPLES = r"""
- name: A 10 GiB LUN backing store
  sanboot.lab.lvm_lun:
    vg: san
    name: guest1-root
    size: 10GiB
  register: lun

- name: Export it
  sanboot.lab.iscsi_target:
    name: iqn.2024-01.lab.sanboot:guest1
    luns: [{lun: 1, path: "{{ lun.device }}", type: blockio}]
    initiators: [iqn.2024-01.lab.sanboot:guest1-boot]
"""

RETURN = r"""
device:
  description: Path of the volume.
  returned: always
  type: str
  sample: /dev/san/guest1-root
size_bytes:
  description: Size of the volume in bytes (0 when absent; predicted in check mode).
  returned: always
  type: int
  sample: 10737418240
extent_size_bytes:
  description: Extent size of the volume group in bytes.
  returned: always
  type: int
  sample: 4194304
rounded_from:
  description: The requested size in bytes before rounding up to whole extents.
  returned: when O(state=present)
  type: int
  sample: 10737418000
rounding:
  description: How the requested size was rounded up to whole extents (empty when it was exact).
  returned: always
  type: list
  elements: str
  sample: ["size: 1000000 bytes rounded up to 4194304 bytes (1 extents of 4MiB)"]
commands:
  description: LVM commands run (with C(--test) in check mode).
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.lvm import _lvm
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError, SanbootError, fail
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner
from ansible_collections.sanboot.lab.plugins.module_utils.common._units import parse_size


def read(runner, vg):
    rc, out, err = runner(_lvm.vgs_argv(vg), check=False)
    if rc != 0:
        if "not found" in err:
            return None, {}
        runner.fail("vgs failed", _lvm.vgs_argv(vg), rc, out, err)
    return _lvm.parse_vgs(out).get(vg), _lvm.parse_lvs(runner(_lvm.lvs_argv(vg))[1])


def users(module, runner, lv):
    mounts = _lvm.mounted_at(_lvm.read_mountinfo(), lv.major, lv.minor)
    try:
        exported = _lvm.exporters(lv.path, lambda argv: runner(argv, check=False),
                                  runner.which("tgtadm", required=False))
    except SanbootError as e:
        fail(module, e)
    return mounts, exported


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            name=dict(type="str", required=True),
            size=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wipe_signatures=dict(type="bool", default=True),
            force=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ["size"])],
        supports_check_mode=True,
    )
    p = module.params
    vg, name = p["vg"], p["name"]
    size = None
    try:
        _lvm.check_names(vg, name)
        if p["size"] is not None:
            size = parse_size(p["size"], what="size")
            if size <= 0:
                raise RequestError("size: %r is not a positive size" % p["size"], option="size")
    except SanbootError as e:
        fail(module, e)
    runner = Runner(module)
    for tool in ("vgs", "lvs"):
        runner.which(tool)
    vg_info, lvs = read(runner, vg)
    mounts, exported = [], []
    if p["state"] == "absent" and lvs.get(name) is not None:
        mounts, exported = users(module, runner, lvs[name])
    try:
        plan = _lvm.plan(vg, name, p["state"], vg_info, lvs, size, p["wipe_signatures"],
                         p["force"], mounts, exported)
    except SanbootError as e:
        fail(module, e)
    commands = []
    for argv in plan.argv:
        argv = _lvm.with_test_flag(argv) if module.check_mode else argv
        runner(argv, msg="%s failed" % argv[0])
        commands.append(argv)
    before = lvs.get(name)
    after = before
    size_bytes = plan.size_bytes
    if plan.argv and not module.check_mode:
        after = read(runner, vg)[1].get(name)
        size_bytes = after.size if after else 0
    elif not plan.argv:
        size_bytes = before.size if before else 0
    result = dict(changed=bool(plan.argv), device="/dev/%s/%s" % (vg, name), size_bytes=size_bytes,
                  extent_size_bytes=vg_info["extent_size"], commands=commands,
                  rounding=plan.messages)
    if p["state"] == "present":
        result["rounded_from"] = plan.rounded_from
    if module._diff:
        predicted = None if p["state"] == "absent" else _lvm.LV(vg, name, size_bytes, "")
        result["diff"] = dict(before=_lvm.describe(before),
                              after=_lvm.describe(after if not module.check_mode else predicted),
                              before_header="%s/%s" % (vg, name), after_header="%s/%s" % (vg, name))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
