#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: iscsi_probe
short_description: Check an iSCSI LUN from userspace as a given initiator (libiscsi, qemu-io)
version_added: 0.1.0
description:
  - Logs in to O(target) at O(portal) as O(initiator_name), optionally with CHAP, and reports what
    the initiator sees - without a kernel initiator (libiscsi's C(iscsi-ls), C(iscsi-inq),
    C(iscsi-readcapacity16); C(qemu-io) with its C(iscsi) block driver for writes).
  - With O(expect=login_ok) the login must succeed; the module returns the LUN's INQUIRY data and
    its capacity in bytes (READ CAPACITY(16)).
  - With O(expect=login_refused) the module succeeds only if the target refuses the login, that
    is answers with a status of class 0x02, Initiator Error (RFC 3720 section 10.13.5 -
    authentication failure, authorization failure, not found ...). tgt answers C(Target not
    found(515)) to an initiator its ACL does not admit. A refusal is told apart from other
    failures (no answer, unknown LUN, timeout), which always fail the module.
  - CHAP secrets are never put on a command line (environment for libiscsi, a 0600 secret file for
    qemu-io).
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - libiscsi-bin (iscsi-ls, iscsi-inq, iscsi-readcapacity16) on the managed host
  - qemu-utils and qemu-block-extra (qemu-io with the iscsi driver) for O(write_test)
  - coreutils C(timeout)
attributes:
  check_mode:
    description: Can run in check mode and return the status the checks would have.
    support: full
    details: The read-only checks run in check mode too; the write test is skipped.
  diff_mode:
    description: Would return a diff of what changed.
    support: none
    details: The module changes nothing.
options:
  portal:
    description:
      - Target portal, C(ADDR[:PORT]); IPv6 in brackets (C([2001:db8::1]:3260)); the port defaults to 3260.
      - C(ADDR) is an IP address or a DNS host name (anything else, such as C(/), C(@), blanks or a
        leading C(-), is refused before any tool runs).
    type: str
    required: true
  target:
    description:
      - Target name (IQN) to log in to, checked after RFC 3720 section 3.2.6.3.
      - Upper case is folded to lower case with a warning.
    type: str
    required: true
  lun:
    description: Logical unit number (LUN 0 of tgt is its controller).
    type: int
    default: 1
  initiator_name:
    description: Initiator name (IQN) to log in as, checked like O(target).
    type: str
    required: true
  chap:
    description: One-way CHAP credentials the initiator offers (non-empty, no control characters).
      Omit to log in without CHAP.
    type: dict
    suboptions:
      username:
        description: CHAP user name.
        type: str
        required: true
      password:
        description: CHAP secret.
        type: str
        required: true
  expect:
    description: Whether the login must succeed (V(login_ok)) or be refused by the target (V(login_refused)).
    type: str
    choices: [login_ok, login_refused]
    default: login_ok
  write_test:
    description:
      - With O(expect=login_ok), write a random block of O(write_length) bytes at O(write_offset)
        in one qemu-io session, read it back in a second one, then write the original data back
        and check it.
      - The LUN holds the same data afterwards; do not use it on a LUN another initiator writes
        at the same time.
    type: bool
    default: false
  write_offset:
    description:
      - Byte offset of the write test, a multiple of the LUN's block size.
      - Default is the middle of the LUN, rounded down to a multiple of 1 MiB (away from partition tables).
    type: int
  write_length:
    description: Bytes written by the write test, a multiple of the block size.
    type: int
    default: 4096
  timeout:
    description: Seconds each tool may take before the probe fails (1-3600).
    type: int
    default: 60
seealso:
  - module: sanboot.lab.iscsi_target
    description: Create the targets, LUNs, ACLs and CHAP users this module checks.
  - module: sanboot.lab.iscsi_target_info
    description: What the target daemon serves, read on the target host.
  - module: sanboot.lab.initramfs_iscsi
    description: Boot a system with its root on the LUN.
"""

EXAMPLES = r"""
- name: The allowed initiator logs in with CHAP and round-trips a block
  sanboot.lab.iscsi_probe:
    portal: 198.51.100.10
    target: iqn.2025-01.lab.sanboot:target1.disks
    lun: 1
    initiator_name: iqn.2025-01.lab.sanboot:client1
    chap:
      username: client1
      password: "{{ vault_chap_secret }}"
    write_test: true
  register: probe

- name: A login without CHAP is refused
  sanboot.lab.iscsi_probe:
    portal: 198.51.100.10
    target: iqn.2025-01.lab.sanboot:target1.disks
    initiator_name: iqn.2025-01.lab.sanboot:client1
    expect: login_refused
"""

RETURN = r"""
login:
  description: V(ok) or V(refused).
  returned: always
  type: str
  sample: ok
login_status:
  description: iSCSI login status code of a refused login (RFC 3720 section 10.13.5), e.g. 513 = 0x0201 authentication failure.
  returned: when refused
  type: int
  sample: 513
login_message:
  description: The refusal as libiscsi printed it.
  returned: when refused
  type: str
  sample: Authentication failure
discovered:
  description: Target names SendTargets discovery lists for this initiator.
  returned: always
  type: list
  elements: str
  sample: [iqn.2025-01.lab.sanboot:target1.disks]
size_bytes:
  description: LUN capacity in bytes (READ CAPACITY(16)).
  returned: when login is ok
  type: int
  sample: 67108864
block_size:
  description: Logical block length in bytes.
  returned: when login is ok
  type: int
  sample: 512
vendor:
  description: INQUIRY vendor identification.
  returned: when login is ok
  type: str
  sample: IET
product:
  description: INQUIRY product identification.
  returned: when login is ok
  type: str
  sample: VIRTUAL-DISK
device_type:
  description: INQUIRY peripheral device type as libiscsi names it.
  returned: when login is ok
  type: str
  sample: DIRECT_ACCESS
revision:
  description: INQUIRY product revision.
  returned: when login is ok
  type: str
  sample: "0001"
verified_write:
  description: The written block read back identical from a second session (false when not tested).
  returned: always
  type: bool
  sample: true
restored:
  description: The original block was written back and read back identical.
  returned: when the write test ran
  type: bool
  sample: true
write_offset:
  description: Byte offset of the write test.
  returned: when the write test ran
  type: int
  sample: 33554432
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError, fail
from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import validate as validate_iqn
from ansible_collections.sanboot.lab.plugins.module_utils.initiator._libiscsi import LoginRefused, Prober, check_request
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner

MIB = 1024 * 1024


def _validate(module):
    try:
        warnings = check_request(module.params, validate_iqn)
    except RequestError as exc:     # IQNError included
        fail(module, exc)
    for warning in warnings:
        module.warn(warning)


def _write_test(module, prober, result):
    params = module.params
    offset = params["write_offset"]
    if offset is None:
        offset = (result["size_bytes"] // 2) // MIB * MIB
    length = params["write_length"]
    if offset % result["block_size"] or length % result["block_size"]:
        module.fail_json(msg="write_offset/write_length must be multiples of the block size %d"
                         % result["block_size"], **result)
    if offset + length > result["size_bytes"]:
        module.fail_json(msg="write_offset + write_length (%d) is past the end of the LUN (%d bytes)"
                         % (offset + length, result["size_bytes"]), **result)
    outcome = prober.write_test(offset, length)
    result.update(verified_write=outcome["verified"], restored=outcome["restored"], write_offset=offset)
    if not outcome["verified"]:
        module.fail_json(msg="write test: the block read back differs from the block written", **result)
    if not outcome["restored"]:
        module.fail_json(msg="write test: the original block could not be restored", **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            portal=dict(type="str", required=True),
            target=dict(type="str", required=True),
            lun=dict(type="int", default=1),
            initiator_name=dict(type="str", required=True),
            chap=dict(type="dict", options=dict(
                username=dict(type="str", required=True),
                password=dict(type="str", required=True, no_log=True),
            )),
            expect=dict(type="str", choices=["login_ok", "login_refused"], default="login_ok"),
            write_test=dict(type="bool", default=False),
            write_offset=dict(type="int"),
            write_length=dict(type="int", default=4096),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    _validate(module)
    params = module.params
    runner = Runner(module)
    for tool in ("iscsi-ls", "iscsi-inq", "iscsi-readcapacity16", "timeout"):
        runner.which(tool)
    if params["write_test"] and params["expect"] == "login_ok":
        runner.which("qemu-io")
    prober = Prober(runner, params["portal"], params["target"], params["lun"],
                    params["initiator_name"], params["chap"], module.tmpdir, params["timeout"])
    result = dict(changed=False, verified_write=False, discovered=prober.discover())
    try:
        result.update(prober.inquiry())
        result.update(prober.capacity())
    except LoginRefused as refusal:
        result.update(login="refused", login_status=refusal.status, login_message=refusal.reason)
        if params["expect"] == "login_refused":
            module.exit_json(**result)
        module.fail_json(msg="login refused by the target: %s(%d)" % (refusal.reason, refusal.status),
                         **result)
    result["login"] = "ok"
    result.pop("last_lba", None)
    if params["expect"] == "login_refused":
        module.fail_json(msg="the target accepted a login that should have been refused "
                             "(initiator %s, CHAP %s)" % (params["initiator_name"],
                                                          "offered" if params["chap"] else "not offered"),
                         **result)
    if params["write_test"] and not module.check_mode:
        _write_test(module, prober, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
