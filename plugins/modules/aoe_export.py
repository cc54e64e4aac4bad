#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: aoe_export
short_description: Export a file or block device over ATA over Ethernet (vblade), supervised
version_added: 0.1.0
description:
  - Makes one vblade AoE export (device C(e<shelf>.<slot>) on O(interface)) present or absent.
  - The running vblade processes (C(/proc/*/cmdline) in the module's network namespace) are the
    state; a running export with the same command line is left alone (no command is run).
    A running export of the same shelf/slot with other options is stopped and started again.
  - O(supervisor=systemd) writes the template unit C(/etc/systemd/system/sanboot-vblade@.service)
    (C(Restart=on-failure)) and C(/etc/sanboot/vblade/e<shelf>.<slot>.env), runs
    C(systemctl daemon-reload) only when the unit file changed, C(systemctl enable --now
    sanboot-vblade@e<shelf>.<slot>) and restarts the instance only when its env file changed.
  - O(supervisor=process) (hosts without systemd) starts C(setsid -f vblade ...) detached, with its
    output in C(/run/sanboot-vblade/e<shelf>.<slot>.log) and its pid in
    C(/run/sanboot-vblade/e<shelf>.<slot>.pid); it does not survive a reboot.
  - "Refused before anything changes: a shelf or slot out of range (the broadcast shelf 65535 and
    slot 255 included), a missing O(path) or one that is not a regular file or block device (a
    directory, C(/dev/null)), a shelf/slot already exported on O(interface) from another file, a
    missing or loopback O(interface) (C(IFF_LOOPBACK), such as C(lo)), a broadcast, multicast or
    all-zero MAC in O(allowed_macs), a backing store that another vblade export or a tgt LUN
    already exports read-write (unless O(readonly=true) or O(force=true))."
  - With O(supervisor=process), a pidfile whose vblade is gone (no such pid, or the pid is no longer
    the vblade of this export, for example after C(kill -9)) is stale - it is removed and, with
    O(state=present), the export started again (C(changed=true)).
  - AoE has no sessions or logins, so the module cannot tell whether an initiator still uses an
    export; O(state=absent) stops it anyway. An export this module did not start is stopped only
    with O(force=true).
  - vblade 25 has no option for the AoE config string, so this module offers none.
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - vblade (tested with vblade 25), C(setsid) and C(kill) (util-linux, procps) on the managed host
  - root (vblade opens a raw socket)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Returns the export before and after (state, device, interface, path and flags).
    support: full
options:
  shelf:
    description: AoE shelf address (major), 0-65534; 65535 (0xffff) is the broadcast shelf (AoE spec r11 section 2.3).
    type: int
    required: true
  slot:
    description: AoE slot address (minor), 0-254; 255 (0xff) is the broadcast slot.
    type: int
    required: true
  interface:
    description: Network interface vblade serves on (AoE is layer 2 - not routed); not a loopback interface.
    type: str
    required: true
  path:
    description:
      - Absolute path of the regular file or block device to export (not a directory or character
        device). Required with O(state=present).
      - Must exist; quotes, backslashes, C($), C(`) and control characters are refused (they would
        need quoting in the systemd environment file).
    type: path
  readonly:
    description: Export read-only (vblade C(-r)); writes are answered with ATA status 0x41, error ABRT.
    type: bool
    default: false
  allowed_macs:
    description:
      - MAC addresses of the initiators allowed to use the export (vblade C(-m)); any notation
        (C(52:54:00:12:34:56), C(52-54-00-12-34-56), C(525400123456)); unicast addresses only
        (broadcast, multicast and all-zero MACs are refused).
      - Empty means every host on the segment can read and write the export.
    type: list
    elements: str
    default: []
  direct:
    description: Open the backing store with C(O_DIRECT) (vblade C(-d)).
    type: bool
    default: false
  sync:
    description: Open the backing store with C(O_SYNC) (vblade C(-s)), every write reaches the disk before the reply.
    type: bool
    default: false
  buffers:
    description:
      - vblade's buffer count (C(-b)), 1-65535 - the requests it says it can queue, advertised as the Buffer Count
        of its Query Config answer (AoE spec r11); initiators keep at most that many requests outstanding (RV(changes)
        shows it as C(buffers=N)). V(null) runs vblade without C(-b) (its default, 16).
      - Part of the export's command line, so a different value stops and starts the export again (with
        V(systemd), its env file changes and the instance restarts); initiators see the new count when they next
        query the target's config (e.g. C(aoe-discover)).
    type: int
  state:
    description: Whether the export runs (V(present)) or not (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - Allow what is refused otherwise - replace an export of the same shelf/slot on O(interface)
        from another file, export a backing store a second time read-write, stop an export this
        module did not start.
    type: bool
    default: false
  supervisor:
    description:
      - How vblade is kept running. V(auto) is V(systemd) when C(/run/systemd/system) exists,
        else V(process).
    type: str
    choices: [auto, systemd, process]
    default: auto
seealso:
  - module: sanboot.lab.aoe_probe
    description: Find the export and read or write its sectors from userspace.
  - module: sanboot.lab.initramfs_aoe
    description: Boot a system with its root on the export.
"""

EXAMPLES = r"""
- name: Export a disk image read-write to one initiator
  sanboot.lab.aoe_export:
    shelf: 1
    slot: 0
    interface: eth1
    path: /srv/aoe/e1.0.img
    allowed_macs: ["52:54:00:00:00:20"]

- name: Export a golden image read-only to everyone on eth1
  sanboot.lab.aoe_export:
    shelf: 1
    slot: 1
    interface: eth1
    path: /srv/aoe/golden.img
    readonly: true

- name: Let initiators keep 64 requests outstanding (vblade -b 64)
  sanboot.lab.aoe_export:
    shelf: 1
    slot: 2
    interface: eth1
    path: /srv/aoe/e1.2.img
    buffers: 64

- name: Stop the export
  sanboot.lab.aoe_export:
    shelf: 1
    slot: 0
    interface: eth1
    state: absent
"""

RETURN = r"""
device:
  description: AoE device name, C(e<shelf>.<slot>).
  returned: always
  type: str
  sample: e1.0
size_bytes:
  description: Size of the backing store in bytes (what initiators see; vblade rounds down to 512-byte sectors).
  returned: when O(state=present)
  type: int
  sample: 67108864
pid:
  description: Pid of the vblade process serving the export (null when absent, or in check mode before it starts).
  returned: always
  type: int
  sample: 4242
supervisor:
  description: The supervisor used (V(auto) resolved).
  returned: always
  type: str
  sample: process
changes:
  description: What was (or, in check mode, would be) done, in order.
  returned: always
  type: list
  elements: str
  sample: ["start vblade: e1.0 on eth1: /srv/aoe/e1.0.img"]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner
from ansible_collections.sanboot.lab.plugins.module_utils.common import _netif
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError, fail
from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _vblade as vb
from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _supervise as vs


def _find(exports, desired):
    return [e for e in exports if (e["shelf"], e["slot"], e["interface"])
            == (desired["shelf"], desired["slot"], desired["interface"])]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            shelf=dict(type="int", required=True),
            slot=dict(type="int", required=True),
            interface=dict(type="str", required=True),
            path=dict(type="path"),
            readonly=dict(type="bool", default=False),
            allowed_macs=dict(type="list", elements="str", default=[]),
            direct=dict(type="bool", default=False),
            sync=dict(type="bool", default=False),
            buffers=dict(type="int"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            supervisor=dict(type="str", choices=["auto", "systemd", "process"], default="auto"),
        ),
        required_if=[("state", "present", ["path"])],
        supports_check_mode=True,
    )
    params, runner = module.params, Runner(module)
    present = params["state"] == "present"
    supervisor = params["supervisor"]
    if supervisor == "auto":
        supervisor = "systemd" if os.path.isdir("/run/systemd/system") else "process"
    try:
        desired = vb.validate(params)
        if present and not os.path.exists(desired["path"]):
            raise vb.PlanError("path=%s does not exist (create the backing file or block device first)"
                               % desired["path"], option="path")
        if present and vb.backing_problem(desired["path"]):
            raise vb.PlanError("path=%s %s" % (desired["path"], vb.backing_problem(desired["path"])),
                               option="path")
        if _netif.problem(desired["interface"], must_exist=present):
            raise vb.PlanError(_netif.problem(desired["interface"], must_exist=present),
                               option="interface")
        desired["file_id"] = vb.file_id(desired["path"]) if present else None
        vblade = runner.which("vblade", required=present) or "vblade"
        exports = vb.running_exports(all_netns=True)
        if present:
            stores = {} if desired["readonly"] or params["force"] else vb.tgt_backing_stores(runner)
            mine = vb.check_conflicts(desired, exports, stores, params["force"])
        else:
            mine = _find([e for e in exports if e["same_netns"]], desired)
        dev = vb.device_name(desired["shelf"], desired["slot"])
        if supervisor == "systemd":
            unit = vs.read_systemd(runner, desired["shelf"], desired["slot"])
            actions = vs.plan_systemd(desired, params["state"], mine, unit, params["force"], vblade)
        else:
            actions = vs.plan_process_pidfile(desired, params["state"], mine, params["force"])
    except SanbootError as exc:     # a refusal, or the exporters could not be asked (StoreError)
        fail(module, exc)

    before = vb.state_dict(mine[0] if mine else None, supervisor)
    after = vb.state_dict(desired if present else None, supervisor)
    pid = mine[0]["pid"] if mine and not actions else None
    if actions and not module.check_mode:
        applier = vs.Applier(runner, vblade=vblade)
        applier.apply(actions)
        pid = applier.started_pid
        if present and supervisor == "systemd":
            pid = vs.read_systemd(runner, desired["shelf"], desired["slot"])["main_pid"] or None
    result = dict(changed=bool(actions), device=dev, pid=pid, supervisor=supervisor,
                  changes=[a.text for a in actions])
    if present:
        result["size_bytes"] = vb.size_bytes(desired["path"])
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
