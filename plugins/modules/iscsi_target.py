#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: iscsi_target
short_description: iSCSI targets with their LUNs, ACLs and CHAP (tgt, ietd)
version_added: 0.1.0
description:
  - Converges one target (O(name)) or many in one call (O(targets)) on the managed host.
  - "Provider V(tgt): reads the running state with C(tgtadm --op show), plans the difference and
    applies it with C(tgtadm). C(changed) comes from that comparison: a run with nothing to do
    executes no write command (C(tgt-admin --update) is never used: it recreates idle targets
    even when nothing changed). With O(persist) a tgt-admin config file per target is written
    under O(config_dir) (mode 0600) so that a tgtd restart restores the same state."
  - "Provider V(ietd): renders the managed targets into C(ietd.conf), C(initiators.allow) and
    C(initiators.deny) under O(config_dir), keeping every other target of those files, and
    applies new, changed or removed targets with C(ietadm) where it and C(/proc/net/iet) exist
    (otherwise files only, with a warning)."
  - "Nobody is admitted unless O(initiators), O(initiator_addresses) or O(allow_all=true) say so.
    tgt and IET OR their ACL entries (an address match admits any initiator name), so
    O(initiators) and O(initiator_addresses) together are refused: restrict by name (with CHAP)
    or by address."
  - "Refused unless O(force=true), before anything changes: removing or replacing a LUN, switching
    it to read-only, or removing a target, that has an active session; changing the secret of a
    CHAP account that is also bound to a target not managed by this call (tgt accounts are
    global); a backing store under a system directory (C(/etc), C(/boot), C(/usr), C(/bin),
    C(/sbin), C(/lib*), C(/proc), C(/sys), C(/dev), C(/run)) or a mounted block device (the root
    filesystem's disk)."
  - "Always refused: a backing store that another target, another tgtd or a running vblade (AoE)
    exports unless both exports are read-only (one store is one C((st_dev, st_ino)), or one
    device number for block devices: a hard link or a symlink to an exported store is that store;
    every tgtd control socket C(/var/run/tgtd/socket.N) and every vblade of the host is asked, and
    the run is refused when one cannot be asked); a store that is neither a regular file nor a
    block device; control characters (newline, tab, ...) in any string option; characters the
    persisted configs cannot carry (tgt-admin runs its values through C(/bin/sh)); the address
    V(0.0.0.0/0) or V(::/0) in O(initiator_addresses) (use O(allow_all=true)); invalid iSCSI names
    (RFC 3720 section 3.2.6.3); CHAP secrets shorter than 12 characters (RFC 3720 section 8.2.1),
    names or secrets longer than 255 bytes; a mutual CHAP secret equal to the incoming one."
  - "Provider V(tgt): runs on one tgtd are serialised by an exclusive lock on
    C(/run/lock/sanboot-tgtd-<control_port>.lock) (a run waits up to 120 s for another). When a
    C(tgtadm) call fails, what the run created (targets, LUNs, CHAP accounts; LUNs it removed are
    re-added) is taken back and the error is reported with C(cmd), C(rc), C(stdout), C(stderr)
    (RV(rolled_back) lists the undo commands)."
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - "tgt: C(tgtadm) and a running C(tgtd)"
  - "ietd: nothing to render; C(ietadm) to apply live"
  - netaddr (Python) for O(initiator_addresses)
extends_documentation_fragment:
  - sanboot.lab.iscsi_target
  - sanboot.lab.iscsi_target.targets
  - sanboot.lab.iscsi_target.chap
  - sanboot.lab.iscsi_target.parameters
  - sanboot.lab.iscsi_target.force
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads and plans only; RV(changes) lists what would be done.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before/after of the managed targets as YAML (tgt) or of the config files (ietd); no secrets.
options:
  name:
    description:
      - Target name (IQN, C(eui.) or C(naa.) name; RFC 3720 section 3.2.6.3). Upper case is folded
        to lower case with a warning.
      - Mutually exclusive with O(targets); one of them is required.
    type: str
  state:
    description: Whether the target O(name) exists.
    type: str
    choices: [present, absent]
    default: present
  provider:
    description: The target implementation on the managed host.
    type: str
    choices: [tgt, ietd]
    default: tgt
  portals:
    description:
      - Portals C(ADDR[:PORT]) (IPv6 as C([ADDR]:PORT); port 3260 when omitted) that tgtd must
        listen on. tgt portals are daemon-wide, so missing ones are added and none is ever
        removed. The default V([]) leaves the daemon's portals alone. Ignored by V(ietd) (a warning).
    type: list
    elements: str
    default: []
  luns:
    description:
      - Logical units of the target; LUNs of the target not listed are removed.
      - LUN 0 is tgt's controller; LUN numbers are 1-255.
    type: list
    elements: dict
    default: []
    suboptions:
      lun:
        description: LUN number, 1-255.
        type: int
        required: true
      path:
        description:
          - Backing store (file or block device, absolute path; must exist). A store may be
            exported twice (here, by another tgtd or by vblade) only when every export is read-only.
          - "Characters: C(A-Z a-z 0-9 _ . + @ % = : / -) (the persisted tgt-admin and IET configs
            cannot carry more). Not under a system directory nor a mounted block device unless
            O(force=true)."
        type: path
        required: true
      type:
        description:
          - V(fileio) uses the page cache; V(blockio) opens the store with O_DIRECT (tgt
            C(--bsoflags direct); IET C(Type=blockio), which needs a block device).
          - Changing it recreates the LUN.
        type: str
        choices: [fileio, blockio]
        default: fileio
      readonly:
        description: Export read-only (tgt C(readonly=1), IET C(IOMode=ro)).
        type: bool
        default: false
      serial:
        description:
          - SCSI unit serial number (1-36 characters of C(A-Za-z0-9_.:-)). Left as the daemon
            chose when omitted.
        type: str
  initiators:
    description: Initiator names (IQNs) admitted. Cannot be combined with O(initiator_addresses).
    type: list
    elements: str
    default: []
  initiator_addresses:
    description:
      - Initiator addresses or CIDR networks admitted (any initiator name from there).
        Cannot be combined with O(initiators).
      - V(0.0.0.0/0) and V(::/0) (everyone) are refused; admitting every initiator takes
        O(allow_all=true) (tgt's C(ALL)).
    type: list
    elements: str
    default: []
  allow_all:
    description:
      - Admit every initiator (tgt's C(ALL)); the only way to say so. Cannot be combined with
        O(initiators) or O(initiator_addresses).
    type: bool
    default: false
  persist:
    description:
      - "Write the provider's configuration so a daemon restart restores the same state. tgt:
        C(<config_dir>/<name with : replaced by _>.conf) for tgt-admin, mode 0600, rewritten
        only when its content changes, removed with the target. ietd: always writes its files."
    type: bool
    default: true
  config_dir:
    description: Where the configuration goes. Default C(/etc/tgt/conf.d) (tgt), C(/etc/iet) (ietd).
    type: path
  purge:
    description:
      - Remove targets of the daemon that are not listed in O(targets), and their persisted files.
        Respects O(force) for targets with sessions.
      - Needs a non-empty O(targets); refused with O(name) (it would remove every other target).
    type: bool
    default: false
seealso:
  - module: sanboot.lab.iscsi_target_info
    description: Read back what tgtd serves (targets, LUNs, ACLs, CHAP users, sessions).
  - module: sanboot.lab.iscsi_probe
    description: Check a LUN from userspace as a given initiator.
  - module: sanboot.lab.lvm_lun
    description: A thick logical volume to back a LUN.
"""

EXAMPLES = r"""
- name: One target, two LUNs, masked to one initiator, with CHAP
  sanboot.lab.iscsi_target:
    name: "{{ '2024-01' | sanboot.lab.iqn('lab.sanboot', 'target1') }}"
    portals: ["198.51.100.10:3260"]
    luns:
      - {lun: 1, path: /srv/iscsi/boot.img}
      - {lun: 2, path: /srv/iscsi/data.img, serial: DATA0001}
    initiators: [iqn.2024-01.lab.sanboot:client1]
    chap:
      username: client1
      password: "{{ vault_chap_secret }}"

- name: Many targets in one call, remove the others
  sanboot.lab.iscsi_target:
    targets:
      - name: iqn.2024-01.lab.sanboot:guest1
        luns: [{lun: 1, path: /dev/vg0/guest1}]
        initiator_addresses: [198.51.100.0/25]
      - name: iqn.2024-01.lab.sanboot:old
        state: absent
    purge: true

- name: Larger PDUs and bursts for the sessions that log in from now on
  sanboot.lab.iscsi_target:
    name: iqn.2024-01.lab.sanboot:guest1
    luns: [{lun: 1, path: /dev/vg0/guest1}]
    initiators: [iqn.2024-01.lab.sanboot:client1]
    parameters: {MaxRecvDataSegmentLength: 262144, MaxBurstLength: 1048576, ImmediateData: true}

- name: Render an IET configuration
  sanboot.lab.iscsi_target:
    provider: ietd
    name: iqn.2024-01.lab.sanboot:legacy
    luns: [{lun: 1, path: /dev/vg0/legacy, type: blockio}]
    initiators: [iqn.2024-01.lab.sanboot:client1]
"""

RETURN = r"""
target:
  description: The target O(name) after the run (null when absent or with O(targets)).
  returned: always
  type: dict
  contains:
    name: {description: Target name., type: str}
    tid: {description: Target id (tgt), type: int}
    luns:
      description: "LUNs: lun, path, size_bytes (bytes), readonly, type, serial."
      type: list
      elements: dict
    initiators: {description: Initiator names admitted., type: list, elements: str}
    initiator_addresses: {description: Addresses admitted., type: list, elements: str}
    allow_all: {description: Whether every initiator is admitted., type: bool}
    chap_users: {description: Incoming CHAP user names bound., type: list, elements: str}
    mutual_chap_users: {description: Outgoing CHAP user names bound., type: list, elements: str}
    sessions:
      description: Active sessions (initiator, address).
      type: list
      elements: dict
    parameters:
      description: "The O(parameters) keys as tgtd reports them (ints in bytes or counts, booleans); only for a target whose request sets O(parameters)."
      type: dict
      returned: when O(parameters) is set
  sample: {name: "iqn.2024-01.lab.sanboot:target1", tid: 1, luns: [{lun: 1, path: /srv/a.img,
           size_bytes: 67108864, readonly: false, type: fileio, serial: beaf11}],
           initiators: ["iqn.2024-01.lab.sanboot:client1"], initiator_addresses: [],
           allow_all: false, chap_users: [client1], mutual_chap_users: [], sessions: []}
targets:
  description: Every target of the request (and purged ones still present), in the RV(target) form.
  returned: always
  type: list
  elements: dict
changes:
  description: What was (check mode - would be) changed, in order; no secrets.
  returned: always
  type: list
  elements: str
  sample: ["create target iqn.2024-01.lab.sanboot:target1 (tid 1)", "add LUN 1 /srv/a.img (fileio) to iqn.2024-01.lab.sanboot:target1"]
commands:
  description: The write commands that ran, shell-quoted (passwords masked); empty in check mode and when nothing changed.
  returned: always
  type: list
  elements: str
rolled_back:
  description: After a failed C(tgtadm) call, the undo commands that ran (passwords masked).
  returned: failure of a tgtadm call (provider tgt)
  type: list
  elements: str
rollback_failed:
  description: After a failed C(tgtadm) call, the undo commands that failed themselves.
  returned: failure of a tgtadm call (provider tgt)
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.target._module import (
    MUTUALLY_EXCLUSIVE, REQUIRED_ONE_OF, argument_spec, run)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=MUTUALLY_EXCLUSIVE, required_one_of=REQUIRED_ONE_OF)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
