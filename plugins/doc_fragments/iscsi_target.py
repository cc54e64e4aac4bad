# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Options of sanboot.lab.iscsi_target (and, for control_port, sanboot.lab.iscsi_target_info)."""

    DOCUMENTATION = r"""
options:
  control_port:
    description: tgtd's control port (C(tgtd -C N), C(tgtadm -C N)), 0-65535.
    type: int
    default: 0
"""

    TARGETS = r"""
options:
  targets:
    description:
      - Many targets in one call (the daemon is read once). Each item takes the per-target
        options O(name), O(state), O(luns), O(initiators), O(initiator_addresses), O(allow_all)
        and O(chap) with the same meaning. Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      name:
        description: Target name (IQN).
        type: str
        required: true
      state:
        description: Whether the target exists.
        type: str
        choices: [present, absent]
        default: present
      luns:
        description: Logical units, as O(luns).
        type: list
        elements: dict
        suboptions:
          lun:
            description: LUN number, 1-255.
            type: int
            required: true
          path:
            description: Backing store (file or block device, absolute path; must exist).
            type: path
            required: true
          type:
            description: V(fileio) or V(blockio), as O(luns[].type).
            type: str
            choices: [fileio, blockio]
            default: fileio
          readonly:
            description: Export read-only.
            type: bool
            default: false
          serial:
            description: SCSI unit serial number (1-36 characters of C(A-Za-z0-9_.:-)).
            type: str
      initiators:
        description: Initiator names admitted, as O(initiators).
        type: list
        elements: str
      initiator_addresses:
        description: Initiator addresses admitted, as O(initiator_addresses).
        type: list
        elements: str
      allow_all:
        description: Admit every initiator, as O(allow_all).
        type: bool
        default: false
      chap:
        description: CHAP credentials, as O(chap).
        type: dict
        suboptions:
          username:
            description: Incoming CHAP user name.
            type: str
          password:
            description: Incoming CHAP secret, 12 or more characters.
            type: str
          mutual_username:
            description: Mutual (outgoing) CHAP user name.
            type: str
          mutual_password:
            description: Mutual CHAP secret, 12 or more characters, not equal to O(targets[].chap.password).
            type: str
"""

    CHAP = r"""
options:
  chap:
    description:
      - CHAP credentials. Omit (or leave empty) for no CHAP; accounts no longer bound to any
        target are deleted.
      - "tgt: accounts are global and tgtadm never shows their secrets; the module knows the
        last secret it applied from its persisted files and recreates the account when the
        secret changes. With O(persist=false) an existing account is trusted as it is."
    type: dict
    suboptions:
      username:
        description: User name the initiator authenticates with (incoming CHAP).
        type: str
      password:
        description:
          - Its secret, 12-255 characters (RFC 3720 section 8.2.1); printable ASCII without blanks, quotes, C(#), C(<), C(>) or backslash.
          - "With provider V(tgt) and O(persist=true) (the default) user names and secrets use only C(A-Z a-z 0-9 _ . + @ % = : , / -)
            (tgt-admin passes them to C(/bin/sh) unquoted)."
        type: str
      mutual_username:
        description: User name the target authenticates with (mutual / outgoing CHAP).
        type: str
      mutual_password:
        description: Its secret, 12 or more characters; must differ from O(chap.password).
        type: str
"""

    FORCE = r"""
options:
  force:
    description:
      - Allow removing, replacing or switching to read-only LUNs and targets that have active
        sessions (the initiators lose them or their writes fail), changing a CHAP secret shared
        with an unmanaged target, and a backing store under a system directory or a mounted
        block device.
    type: bool
    default: false
"""
