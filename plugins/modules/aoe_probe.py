#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: aoe_probe
short_description: Find an AoE export and read or write its sectors from userspace
version_added: 0.1.0
description:
  - A small ATA over Ethernet initiator in Python (AF_PACKET raw socket, ethertype 0x88A2), for
    hosts without the aoe kernel driver. C(aoeping)/C(aoecfg) cannot be used against vblade on
    veth links (they drop its Query Config replies, which are shorter than 60 bytes).
  - Sends a Query Config for O(shelf)/O(slot) on O(interface) (Ethernet broadcast) and reports
    whether a target answered; then ATA IDENTIFY DEVICE gives its size (LBA48 sector count,
    words 100-103), model and firmware.
  - With O(read_lba), reads O(read_count) sectors (ATA READ SECTORS EXT) and returns them in hex
    with their SHA-256. With O(write_lba) and O(write_data), writes first (ATA WRITE SECTORS EXT),
    then reads if asked, so one task can check a round trip.
  - One request is in flight at a time; a request carries at most (MTU - 36) / 512 sectors.
  - "Refused before any frame is sent, naming the option: the broadcast shelf 65535 or slot 255, a
    missing or loopback O(interface) (C(IFF_LOOPBACK)), a broadcast, multicast or all-zero O(mac),
    negative sector addresses, O(read_count) or O(write_data) beyond 2048 sectors, O(timeout) not in
    (0, 300], O(retries) not in 0-100. A write is refused when several targets answer for the same
    shelf/slot and O(mac) does not name one. Replies from a group or all-zero source MAC are ignored."
  - Only the Python standard library is needed on the managed host, and root (C(CAP_NET_RAW)).
author:
  - sanboot.lab developers (!UNKNOWN)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Discovery and reads run in check mode; a write is skipped and reported as a change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  interface:
    description: Network interface to send AoE frames on (same Ethernet segment as the target).
    type: str
    required: true
  shelf:
    description: AoE shelf address of the export, 0-65534.
    type: int
    required: true
  slot:
    description: AoE slot address of the export, 0-254.
    type: int
    required: true
  timeout:
    description: Seconds to wait for each reply before retrying (more than 0, at most 300).
    type: float
    default: 1.0
  retries:
    description: How many times a request is sent again after a timeout (0-100).
    type: int
    default: 3
  read_lba:
    description: First sector (logical block address, 512-byte sectors) to read.
    type: int
  read_count:
    description: Number of 512-byte sectors to read from O(read_lba) (at most 2048, 1 MiB).
    type: int
    default: 1
  write_lba:
    description: First sector to write; needs O(write_data).
    type: int
  write_data:
    description:
      - Data to write at O(write_lba), in hex (whitespace ignored). It is padded with zero bytes to
        a whole number of 512-byte sectors (at most 2048). Needs O(write_lba).
    type: str
  mac:
    description:
      - MAC address of the target to talk to, when several answer for O(shelf)/O(slot); a unicast
        address. Without it the first target that answered is used, and a write is refused when
        more than one answered.
    type: str
seealso:
  - module: sanboot.lab.aoe_export
    description: Export a file or block device over AoE (vblade).
  - module: sanboot.lab.initramfs_aoe
    description: Boot a system with its root on the export.
"""

EXAMPLES = r"""
- name: Find e1.0 from the client
  sanboot.lab.aoe_probe:
    interface: eth0
    shelf: 1
    slot: 0
  register: aoe

- name: Write a sector and read it back
  sanboot.lab.aoe_probe:
    interface: eth0
    shelf: 1
    slot: 0
    write_lba: 8
    write_data: "73616e626f6f742e6c6162"  # "sanboot.lab", padded with zeros to 512 bytes
    read_lba: 8
"""

RETURN = r"""
found:
  description: Whether a target answered the Query Config.
  returned: always
  type: bool
mac:
  description: MAC address of the target that answered (the first, if several did).
  returned: when found
  type: str
  sample: "52:54:00:00:00:10"
macs:
  description: MAC addresses of every target that answered for this shelf/slot.
  returned: always
  type: list
  elements: str
size_bytes:
  description: Capacity in bytes (IDENTIFY LBA48 sector count times 512).
  returned: when found
  type: int
  sample: 67108864
sectors:
  description: Capacity in 512-byte sectors.
  returned: when found
  type: int
config:
  description: The target's AoE config string (empty when none is set).
  returned: when found
  type: str
buffer_count:
  description: Requests the target says it can queue (Query Config Buffer Count; vblade C(-b), 16 by default).
  returned: when found
  type: int
firmware:
  description: Firmware revision from IDENTIFY (vblade reports C(V25)).
  returned: when found
  type: str
model:
  description: Model from IDENTIFY.
  returned: when found
  type: str
  sample: Coraid EtherDrive vblade
serial:
  description: Serial number from IDENTIFY.
  returned: when found
  type: str
max_sectors:
  description: Sectors per ATA request used (from the MTU and the target's sector count).
  returned: when found
  type: int
mtu:
  description: MTU of O(interface) in bytes.
  returned: always
  type: int
data_hex:
  description: The sectors read, in hex.
  returned: when O(read_lba) is set
  type: str
data_sha256:
  description: SHA-256 of the sectors read.
  returned: when O(read_lba) is set
  type: str
written_bytes:
  description: Bytes written (or that would be written in check mode), after padding.
  returned: when O(write_lba) is set
  type: int
"""

import binascii
import hashlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol
from ansible_collections.sanboot.lab.plugins.module_utils.aoe._check import check_probe, pick_target
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError, fail


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type="str", required=True),
            shelf=dict(type="int", required=True),
            slot=dict(type="int", required=True),
            timeout=dict(type="float", default=1.0),
            retries=dict(type="int", default=3),
            read_lba=dict(type="int"),
            read_count=dict(type="int", default=1),
            write_lba=dict(type="int"),
            write_data=dict(type="str"),
            mac=dict(type="str"),
        ),
        required_together=[("write_lba", "write_data")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        data, mac = check_probe(p)
    except RequestError as exc:
        fail(module, exc)
    try:
        client = _protocol.AoEClient(p["interface"], timeout=p["timeout"], retries=p["retries"])
    except (OSError, IOError) as exc:
        module.fail_json(msg="cannot open an AoE raw socket on interface %s (needs root and an "
                             "existing interface): %s" % (p["interface"], exc))
    result = dict(changed=False, found=False, macs=[], mtu=client.mtu)
    try:
        with client:
            targets = client.discover(p["shelf"], p["slot"])
            result["macs"] = [t["src"] for t in targets]
            target = pick_target(targets, mac, data is not None)
            if target is None:
                if p["read_lba"] is not None or data is not None:
                    module.fail_json(msg="no AoE target e%d.%d%s answered on %s" % (
                        p["shelf"], p["slot"], " at mac %s" % mac if mac else "", p["interface"]), **result)
                module.exit_json(**result)
            ident = client.identify(target)
            result.update(found=True, mac=target["src"], size_bytes=ident["size_bytes"], sectors=ident["sectors"],
                          config=target["config"], buffer_count=target["buffer_count"],
                          firmware=ident["firmware"], model=ident["model"],
                          serial=ident["serial"], max_sectors=_protocol.max_sectors(client.mtu, target["sector_count"]))
            for lba, count in ((p["write_lba"], len(data or b"") // 512), (p["read_lba"], p["read_count"])):
                if lba is not None and lba + count > ident["sectors"]:
                    module.fail_json(msg="sectors %d-%d are past the end of e%d.%d (%d sectors)"
                                     % (lba, lba + count - 1, p["shelf"], p["slot"], ident["sectors"]), **result)
            if data is not None:
                result.update(changed=True, written_bytes=len(data))
                if not module.check_mode:
                    client.write(target, p["write_lba"], data)
            if p["read_lba"] is not None:
                got = client.read(target, p["read_lba"], p["read_count"])
                result.update(data_hex=binascii.hexlify(got).decode("ascii"),
                              data_sha256=hashlib.sha256(got).hexdigest())
    except (_protocol.AoEError, OSError, IOError, ValueError) as exc:
        module.fail_json(msg="AoE e%d.%d on %s: %s" % (p["shelf"], p["slot"], p["interface"], exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
