#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: iscsi_initiator
short_description: open-iscsi node records and sessions for exact (target, portal, interface) tuples
version_added: 0.1.0
description:
  - Manages the open-iscsi node records (C(/etc/iscsi/nodes)) and sessions of one target on the listed
    portals through one iface record. Every C(iscsiadm -m node) call names the exact record with
    C(-T), C(-p) and C(-I), so a login to one portal never logs in to the target's other portals.
  - Missing records are made by SendTargets discovery, C(iscsiadm -m discoverydb -t st -p ADDR:PORT -I IFACE
    -o new --discover), which adds missing records and leaves existing ones (and their C(node.startup))
    alone. Before that a C(-o nonpersistent) discovery must return the target at the portal, otherwise
    the module fails and nothing is changed. With O(discover=false) the records are made with
    C(iscsiadm -m node -o new).
  - Node settings are compared with the record read with C(-S) and only changed keys are written
    (C(-o update -n KEY -v VALUE)); the diff shows the managed keys before and after, secrets as
    C(********).
  - Secrets - iscsiadm takes a value only on its command line (C(-v)); it has no stdin or file input for
    record values. The CHAP secrets are therefore on the command line of the C(-o update) call while it
    runs (visible in C(/proc/PID/cmdline) to local users unless C(/proc) is mounted with C(hidepid)); they
    are never in the module's output (no_log, C(commands) masked). Writing the record files directly would
    avoid it but bypass iscsiadm's record format and locking.
  - After a login the module waits for the SCSI disks of each session (C(udevadm settle --timeout), then
    C(/sys/class/iscsi_session/session<SID>/device/target*/*/block) polled until O(wait_timeout)) and
    returns them with their C(/dev/disk/by-path) names.
  - Refused before anything changes - a portal that is not ADDR[:PORT], an invalid iSCSI name (RFC 3720
    section 3.2.6, RFC 3722), a CHAP secret shorter than 12 bytes (RFC 3720 section 8.2.1) or longer than
    255 bytes (RFC 3720 section 5.1), the same secret in both directions (RFC 3720 section 8.2.1), a setting key
    an existing record does not have, a target that discovery does not return at the portal.
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - open-iscsi (C(iscsiadm), C(iscsid)); the C(iscsi_tcp) kernel module for logins; udev (optional)
attributes:
  check_mode:
    description: Reads records and sessions, runs the nonpersistent discovery check, changes nothing.
    support: full
  diff_mode:
    description: Managed node settings (secrets redacted) and session state per portal, before and after.
    support: full
options:
  target:
    description: The target's iSCSI name (C(iqn.), C(eui.) or C(naa.); RFC 3720 section 3.2.6, RFC 3980).
    type: str
    required: true
  portals:
    description:
      - Portals as C(ADDR[:PORT]) - IPv4 C(a.b.c.d[:port]), IPv6 C([addr]:port) or a bare C(addr) (then
        the port is 3260, RFC 7143 section 13.2), link-local C([fe80::1%eth1]:3260). Host names are refused.
      - The tuples managed are O(target) x O(portals) x O(interface); other records are not touched.
    type: list
    elements: str
    required: true
  interface:
    description: The open-iscsi iface record (C(iscsiadm -m iface)); C(default) is the kernel's TCP stack.
    type: str
    default: default
  state:
    description:
      - C(logged_in) - records exist with the settings, one session per portal.
      - C(present) - records exist with the settings; sessions are left as they are.
      - C(logged_out) - sessions to these portals are logged out; records are kept.
      - C(absent) - logged out and the records deleted (the discoverydb record is kept).
    type: str
    choices: [logged_in, present, logged_out, absent]
    default: logged_in
  discover:
    description: Make missing records by SendTargets discovery (otherwise C(iscsiadm -m node -o new)).
    type: bool
    default: true
  discovery_chap:
    description:
      - Discovery CHAP, written to the discoverydb record of each portal (C(discovery.sendtargets.auth.*)).
        C(mutual_username)/C(mutual_password) are the target's credentials (C(username_in), C(password_in)).
      - Secrets 12 to 255 bytes (RFC 3720 sections 8.2.1 and 5.1), printable ASCII without blanks.
    type: dict
    suboptions: &chap_suboptions
      username: {type: str, description: CHAP name of the initiator.}
      password: {type: str, description: CHAP secret of the initiator.}
      mutual_username: {type: str, description: CHAP name of the target (mutual CHAP).}
      mutual_password: {type: str, description: CHAP secret of the target (mutual CHAP).}
  chap:
    description: Session CHAP in the node records (C(node.session.auth.*)); same rules as O(discovery_chap).
      Not given - the auth settings of the records are left alone.
    type: dict
    suboptions: *chap_suboptions
  node_startup:
    description: C(node.startup) of the records (C(automatic) logs in when iscsid starts); not given - left alone.
    type: str
    choices: [manual, automatic, onboot]
  replacement_timeout:
    description: C(node.session.timeo.replacement_timeout), seconds a lost session queues I/O before
      failing it (0 fails at once); not given - left alone.
    type: int
  noop_out_interval:
    description: C(node.conn[0].timeo.noop_out_interval), seconds between NOP-Out pings (0 disables); not given - left alone.
    type: int
  noop_out_timeout:
    description: C(node.conn[0].timeo.noop_out_timeout), seconds to wait for a NOP-In; not given - left alone.
    type: int
  settings:
    description: Other node record keys (C(node.*), e.g. C(node.session.iscsi.FirstBurstLength)) and their
      values as iscsiadm prints them; C(node.session.auth.*) and the keys naming the record are refused.
    type: dict
    default: {}
  wait_timeout:
    description: Seconds to wait for the SCSI disks of new sessions; the module fails when they do not appear.
    type: int
    default: 30
notes:
  - Discovery adds records for every target and portal the portal returns (iscsiadm's behaviour); only the
    requested tuples are logged in or changed.
  - Discovery runs only when a requested record is missing; the discoverydb auth is kept as requested on every run.
seealso:
  - module: community.general.open_iscsi
    description: The module this one replaces in this collection; see docs/initiator.md for the differences.
  - module: sanboot.lab.iscsi_probe
    description: A userspace login check (libiscsi) without node records or kernel sessions.
  - name: iscsiadm(8)
    description: open-iscsi's administration tool.
    link: https://github.com/open-iscsi/open-iscsi/blob/master/doc/iscsiadm.8
"""

EXAMPLES = r"""
- name: Two paths to a LUN, for dm-multipath
  sanboot.lab.iscsi_initiator:
    target: iqn.2024-01.lab.sanboot:guest1
    portals: ["198.51.100.1:3260", "[2001:db8::1]:3260"]
    chap: {username: guest1, password: "{{ vault_guest1_chap }}"}
    node_startup: automatic
    replacement_timeout: 5
  register: iscsi

- name: Log out, keep the records
  sanboot.lab.iscsi_initiator:
    target: iqn.2024-01.lab.sanboot:guest1
    portals: [198.51.100.1]
    state: logged_out
"""

RETURN = r"""
sessions:
  description: The sessions of the requested tuples (after the run; predicted in check mode, C(sid) 0).
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: Target name., type: str}
    portal: {description: "C(ADDR:PORT), C([v6]:PORT) for IPv6.", type: str, sample: "198.51.100.1:3260"}
    interface: {description: iface record name., type: str}
    sid: {description: open-iscsi session id., type: int}
    devices:
      description: Disks of the session; C(lun) (int), C(name) (C(sdb)), C(path) (C(/dev/sdb)), C(by_path)
        (C(/dev/disk/by-path/ip-...-iscsi-<target>-lun-N), empty without udev), C(wwid) (C(scsi_id -g -u) form, may be empty).
      type: list
      elements: dict
nodes:
  description: The node records of the requested tuples, C(node.*) keys, secrets C(********).
  returned: always
  type: list
  elements: dict
  sample: [{portal: "198.51.100.1:3260", interface: default, settings: {node.startup: automatic}}]
commands:
  description: The changing iscsiadm commands (secrets C(********)); in check mode those that would run.
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError, fail
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _iscsiadm
from ansible_collections.sanboot.lab.plugins.module_utils.initiator._initiator import Converge
from ansible_collections.sanboot.lab.plugins.module_utils.initiator._node_plan import check_request

CHAP_SPEC = dict(username=dict(type="str"), password=dict(type="str", no_log=True),
                 mutual_username=dict(type="str"), mutual_password=dict(type="str", no_log=True))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            target=dict(type="str", required=True),
            portals=dict(type="list", elements="str", required=True),
            interface=dict(type="str", default="default"),
            state=dict(type="str", default="logged_in", choices=["logged_in", "present", "logged_out", "absent"]),
            discover=dict(type="bool", default=True),
            discovery_chap=dict(type="dict", options=CHAP_SPEC),
            chap=dict(type="dict", options=CHAP_SPEC),
            node_startup=dict(type="str", choices=["manual", "automatic", "onboot"]),
            replacement_timeout=dict(type="int"),
            noop_out_interval=dict(type="int"),
            noop_out_timeout=dict(type="int"),
            settings=dict(type="dict", default={}),
            wait_timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    try:
        req = check_request(module.params)
    except SanbootError as e:
        fail(module, e)
    runner = Runner(module)
    runner.which("iscsiadm")
    udevadm = runner.which("udevadm", required=False)
    try:
        result = Converge(runner, req, module.check_mode, udevadm)()
    except _iscsiadm.IscsiadmError as e:
        module.fail_json(msg=e.msg, cmd=e.argv, rc=e.rc, stdout=e.out, stderr=e.err)
    except SanbootError as e:
        fail(module, e)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
