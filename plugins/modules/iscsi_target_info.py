#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: iscsi_target_info
short_description: What a tgt iSCSI target daemon serves - targets, LUNs, ACLs, CHAP users, sessions
version_added: 0.1.0
description:
  - Reads one C(tgtd) (the one on O(control_port)) with C(tgtadm --op show --mode target),
    C(--mode account) and C(--mode portal) and returns every target with its LUNs, its ACL, the
    CHAP user names bound to it and its sessions, plus the daemon's CHAP accounts and portals.
  - Changes nothing; C(changed) is always false, also in check mode.
  - "No secret is returned: tgtadm never shows a CHAP password, only user names."
  - "Sessions: tgt shows a session (an I_T nexus) with the initiator's name and alias and the
    connection it logged in with (connection id, initiator address) as recorded at login. A
    session whose initiator vanished without closing its TCP connection is listed until tgtd's
    TCP gives up."
  - "Fails, with C(cmd), C(rc), C(stdout) and C(stderr), when no tgtd answers on O(control_port);
    refused before anything runs: O(control_port) outside 0-65535, control characters in O(name)."
  - Provider tgt only (tgt 1.0.85 output, Debian 12); for an IET target read C(/proc/net/iet).
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - C(tgtadm) and a running C(tgtd)
extends_documentation_fragment:
  - sanboot.lab.iscsi_target
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: The module changes nothing.
options:
  name:
    description:
      - Return only the target with this name (an iSCSI name; case is ignored, RFC 3722). An
        empty RV(targets) when the daemon has no such target.
      - All targets when omitted.
    type: str
seealso:
  - module: sanboot.lab.iscsi_target
  - module: sanboot.lab.iscsi_probe
    description: Check a LUN from userspace as a given initiator.
"""

EXAMPLES = r"""
- name: Read what the default tgtd serves
  sanboot.lab.iscsi_target_info:
  register: tgt

- name: Targets that have an initiator logged in
  ansible.builtin.debug:
    msg: "{{ tgt.targets | rejectattr('sessions', 'equalto', []) | map(attribute='name') | list }}"

- name: Fail when a LUN backed by /srv/sanboot/guest1-root.img is in use
  ansible.builtin.assert:
    that: >-
      tgt.targets | selectattr('sessions') | map(attribute='luns') | flatten
      | selectattr('path', 'equalto', '/srv/sanboot/guest1-root.img') | list | length == 0

- name: One target of a tgtd started with tgtd -C 1
  sanboot.lab.iscsi_target_info:
    control_port: 1
    name: iqn.2024-01.lab.sanboot:target1
  register: one
"""

RETURN = r"""
targets:
  description: The targets of the daemon (only O(name) when given), by target id.
  returned: always
  type: list
  elements: dict
  contains:
    tid:
      description: Target id.
      type: int
    name:
      description: Target name (IQN).
      type: str
    luns:
      description: Logical units (not LUN 0, tgt's controller), by LUN number.
      type: list
      elements: dict
      contains:
        lun: {description: LUN number., type: int}
        path: {description: Backing store path as tgtd opened it., type: str}
        size_bytes:
          description: >-
            Size in bytes: exact (from the store's file or block device) when the module can
            read it, else tgt's figure (rounded to whole decimal megabytes, times 1000000).
          type: int
        readonly: {description: Whether the LUN is read-only., type: bool}
        type:
          description: V(blockio) when tgtd opens the store with O_DIRECT (C(direct) flag), else V(fileio).
          type: str
        serial: {description: SCSI unit serial number., type: str}
    initiators:
      description: Initiator names in the target's ACL.
      type: list
      elements: str
    initiator_addresses:
      description: Initiator addresses or networks in the target's ACL.
      type: list
      elements: str
    allow_all:
      description: Whether the ACL admits every initiator (C(ALL)).
      type: bool
    chap_users:
      description: Incoming CHAP user names bound to the target (no secrets).
      type: list
      elements: str
    mutual_chap_users:
      description: Outgoing (mutual) CHAP user names bound to the target (no secrets).
      type: list
      elements: str
    sessions:
      description: Logged-in initiators; V([]) when none.
      type: list
      elements: dict
      contains:
        nexus: {description: tgt's I_T nexus id of the session (its TSIH)., type: int}
        initiator: {description: Initiator name., type: str}
        alias: {description: Initiator alias (null when it sent none)., type: str}
        addresses:
          description: IP addresses the initiator connected from (its connections', without repeats).
          type: list
          elements: str
        connections:
          description: Connections as tgt recorded them (C(cid) connection id, C(address) initiator IP).
          type: list
          elements: dict
  sample:
    - tid: 1
      name: iqn.2024-01.lab.sanboot:target1
      luns: [{lun: 1, path: /srv/sanboot/disk1.img, size_bytes: 67108864, readonly: false, type: fileio, serial: beaf11}]
      initiators: ["iqn.2024-01.lab.sanboot:client1"]
      initiator_addresses: []
      allow_all: false
      chap_users: [client1]
      mutual_chap_users: []
      sessions:
        - {nexus: 1, initiator: "iqn.2024-01.lab.sanboot:client1", alias: null, addresses: [198.51.100.20],
           connections: [{cid: 0, address: 198.51.100.20}]}
accounts:
  description: Every CHAP account of the daemon (tgt accounts are global), user names only.
  returned: always
  type: list
  elements: str
  sample: [client1, tgtout]
portals:
  description: Portals the daemon listens on, C(ADDR:PORT) (IPv6 as C([ADDR]:PORT)).
  returned: always
  type: list
  elements: str
  sample: ["198.51.100.10:3260"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_info import run


def main():
    module = AnsibleModule(argument_spec=dict(name=dict(type="str"), control_port=dict(type="int", default=0)),
                           supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
