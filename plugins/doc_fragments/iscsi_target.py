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
        options O(name), O(state), O(luns), O(initiators), O(initiator_addresses), O(allow_all),
        O(chap) and O(parameters) with the same meaning. Mutually exclusive with O(name).
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
      parameters:
        description: Data-path parameters of this target, as O(parameters) (same keys, rules and ranges).
        type: dict
        suboptions:
          MaxRecvDataSegmentLength: {description: "Bytes, 512-16777215.", type: int}
          MaxXmitDataSegmentLength: {description: "Bytes, 512-16777215.", type: int}
          FirstBurstLength: {description: "Bytes, 512-16777215, not above MaxBurstLength.", type: int}
          MaxBurstLength: {description: "Bytes, 512-16777215.", type: int}
          MaxOutstandingR2T: {description: "Count, 1-65535.", type: int}
          ImmediateData: {description: "Yes/No as a boolean.", type: bool}
          InitialR2T: {description: "Yes/No as a boolean.", type: bool}
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

    PARAMETERS = r"""
options:
  parameters:
    description:
      - "Provider V(tgt) only: iSCSI session parameters of the target, the keys spelled as RFC 7143
        and C(tgtadm) spell them. Only the keys given are read (C(tgtadm --op show --mode target
        --tid N)), compared and set (C(tgtadm --op update --mode target --tid N --name KEY --value
        V)); a key left out keeps whatever tgtd has (its default for a new target). The keys given
        are written into the target's persisted block (C(KEY VALUE) lines tgt-admin applies when
        tgtd starts); a key dropped from the request keeps its live value until tgtd restarts."
      - "They apply to sessions that log in afterwards: existing sessions keep what they
        negotiated at login (log the initiators out and in again to use new values)."
      - "Who wins (RFC 7143 section 6.2 and each key's section): tgtd offers these values at login.
        O(parameters.FirstBurstLength), O(parameters.MaxBurstLength) and
        O(parameters.MaxOutstandingR2T) end as the minimum of both sides' offers;
        O(parameters.InitialR2T) as the OR (V(true) if either side asks for it),
        O(parameters.ImmediateData) as the AND (V(false) if either side refuses it).
        O(parameters.MaxRecvDataSegmentLength) is declarative: it limits what the initiator sends
        to tgtd, and the initiator's own value limits what tgtd sends (capped again by
        O(parameters.MaxXmitDataSegmentLength))."
      - "Refused before anything changes: an unknown key, a value out of range, and a
        O(parameters.FirstBurstLength) above O(parameters.MaxBurstLength) (the target's current
        value for the key not given; RFC 7143 section 13.14)."
    type: dict
    suboptions:
      MaxRecvDataSegmentLength:
        description:
          - Largest data segment tgtd receives in one PDU, bytes, 512-16777215 (2**24-1; RFC 7143 section 13.12).
            tgt default 8192.
        type: int
      MaxXmitDataSegmentLength:
        description:
          - Largest data segment tgtd sends in one PDU, bytes, 512-16777215 (tgt's own key, not negotiated;
            the initiator's MaxRecvDataSegmentLength caps it further). tgt default 8192.
        type: int
      FirstBurstLength:
        description:
          - Unsolicited data (immediate and unsolicited Data-Out) per command, bytes, 512-16777215, not above
            MaxBurstLength (RFC 7143 section 13.14). tgt default 65536.
        type: int
      MaxBurstLength:
        description:
          - Largest solicited data sequence (one R2T or Data-In burst), bytes, 512-16777215 (RFC 7143 section 13.13).
            tgt default 262144.
        type: int
      MaxOutstandingR2T:
        description: R2Ts outstanding per task, 1-65535 (RFC 7143 section 13.17). tgt default 1.
        type: int
      ImmediateData:
        description:
          - Allow data in the command PDU (tgtadm C(Yes)/C(No); RFC 7143 section 13.11). tgt default V(true).
        type: bool
      InitialR2T:
        description:
          - Require an R2T before any unsolicited Data-Out (tgtadm C(Yes)/C(No); RFC 7143 section 13.10).
            tgt default V(true).
        type: bool
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
