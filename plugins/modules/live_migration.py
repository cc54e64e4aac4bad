#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: live_migration
short_description: Move a running guest to another hypervisor, after checking it can go
version_added: 0.1.0
description:
  - Live-migrates the running domain O(domain) from O(source) to O(destination) with libvirt,
    the Xen xl toolstack or the Xen xend toolstack (xm); with xl also stopped (O(mode=cold)).
  - Before the guest is touched every precheck runs; the module fails with every failed check in RV(errors) and the guest
    untouched when one fails. The checks are that the domain runs on the source, the destination is not the source (by name, or
    for libvirt an address of the source host), the destination is reachable and accepts migrations (libvirt - a distinct host
    UUID, and over ssh (an ssh URI, or with O(announce=at_switchover)) a free migration port - the port of O(migrate_uri) when it
    names one, else one of qemu.conf C(migration_port_min)..C(migration_port_max) not held by a listening socket, C(ss -Hltn)); xm -
    C(xend-relocation-server yes), a C(xend-relocation-hosts-allow) that admits the source, xend itself listening on the
    relocation port and no other process holding it), the same CPU architecture and vendor (a running guest cannot move between
    Intel and AMD CPUs), enough free memory on the destination, every guest disk is shared storage the destination can reach (a
    network disk such as iSCSI, or an iSCSI LUN under C(/dev/disk/by-path) that the destination has too; a local file or block
    device is refused), no domain of that name already runs on the destination, for xl live moves a source hypervisor that can
    (see O(mode)), and, with O(storage_network), both hosts have an address in it.
  - Then it migrates, verifies that the domain runs on the destination and no longer on the source, and returns the times and the
    amount of data from the hypervisor's own job statistics where it keeps them (libvirt).
  - An option whose description starts with driver names (C(libvirt, xm -)) is honoured by those drivers only. With another driver
    any value but its default is refused before anything runs, never ignored (O(tls=true) with xm, whose xend relocation is
    plaintext, for example).
  - A failed, refused or timed-out migration leaves the guest running on the source; the module then fails with
    RV(location=source) after checking where the guest runs.
  - Idempotent - when the domain already runs on the destination and not on the source, nothing is done and C(changed) is false.
  - The xl and xm drivers run on the source dom0 (delegate the task to it) and reach the destination with O(ssh_command) as root,
    the ssh trust the role C(sanboot.lab.xen_relocation) sets up.
  - "Refused before any host is asked: O(source), O(destination), O(domain) starting with C(-), hosts with blanks, control or shell
    characters, such URIs, a bad O(ssh_command). Each ssh command line built here has C(--) before the host."
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - libvirt - libvirt-python (Debian C(python3-libvirt)) on the host that runs the module.
  - xl, xm - the toolstack on both dom0s, C(ssh), C(ip), C(ss) and coreutils C(timeout).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Runs the prechecks only; C(changed) tells whether a migration would happen.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff shows the host the domain runs on, before and after.
options:
  domain:
    description: Name of the running guest (libvirt domain or Xen domU name).
    type: str
    required: true
  source:
    description:
      - The host the guest runs on now (name or address), as the destination sees it.
      - For xl and xm the module must run on this host.
    type: str
    required: true
  destination:
    description:
      - The host to move the guest to (name or address). Must differ from O(source).
      - For xl and xm, the host C(xl migrate)/C(xm migrate) connects to.
    type: str
    required: true
  driver:
    description: Toolstack that moves the guest.
    type: str
    choices: [libvirt, xl, xm]
    default: libvirt
  allow_unsafe_tcg:
    description:
      - libvirt - live-migrate a guest that runs under TCG (domain type C(qemu), no hardware virtualisation) although the source's
        QEMU is older than 10.0, which is otherwise refused.
      - QEMU 7.2 (Debian 12) loses guest writes during a live migration under TCG - pages the vCPU keeps writing arrive stale and
        the guest oopses, panics or hangs after the move (11 moves of 11 with a busy guest); QEMU 10.0.2 (bookworm-backports) moved
        100 of 100 correctly. O(live=false) is safe on any version. KVM guests are not concerned.
    type: bool
    default: false
  live:
    description: libvirt, xm - keep the guest running while its memory is copied; V(false) pauses it for the whole copy.
    type: bool
    default: true
  max_downtime_ms:
    description: libvirt - longest pause (milliseconds) the hypervisor may take for the final copy (C(migrateSetMaxDowntime)).
    type: int
  bandwidth_mbps:
    description:
      - libvirt, xm - bandwidth limit of the transfer in megabits per second (10^6 bit/s). libvirt rounds it up to whole MiB/s; xm
        passes it as C(--resource).
    type: int
  parallel_connections:
    description:
      - libvirt - TCP connections (QEMU multifd channels, 1 to 255) the memory travels over to the destination's one migration port
        (C(VIR_MIGRATE_PARALLEL), C(parallel.connections)). Unset - one stream (classic pre-copy). Lab numbers - C(docs/migration.md).
    type: int
  timeout:
    description:
      - Seconds the migration may take. libvirt aborts the job (C(abortJob)); xl and xm run under coreutils C(timeout). Either way
        the guest stays on the source.
    type: int
    default: 300
  storage_network:
    description:
      - CIDR of the storage network (for example V(198.51.100.128/25)). When set, both hosts must have an address in it and every
        iSCSI portal of the guest's disks must lie in it.
      - Addresses come from C(ip -o addr show) on each host (over O(ssh_command) for a remote one; for a libvirt URI without ssh,
        the URI's host and O(migrate_uri)'s host).
    type: str
  source_uri:
    description: libvirt - URI of the source. Default V(qemu:///system) (the module runs on it).
    type: str
  destination_uri:
    description:
      - libvirt - URI of the destination, opened by the module and, with O(peer2peer), by the source libvirtd. Default C(qemu+ssh://root@DESTINATION/system).
    type: str
  migrate_uri:
    description:
      - libvirt - migration data URI, for example V(tcp://198.51.100.31) - the destination's address on
        the network the memory should travel (libvirt otherwise uses the destination's host name).
    type: str
  peer2peer:
    description:
      - libvirt - V(true) lets the source libvirtd drive the migration over its own connection to O(destination_uri)
        (C(VIR_MIGRATE_PEER2PEER)); the module's connection can fail without stranding a paused guest. V(false) drives it from the
        module.
    type: bool
    default: true
  persistent:
    description:
      - libvirt - what happens to the definition of a persistent domain.
      - V(move) defines it on the destination and undefines it on the source
        (C(VIR_MIGRATE_PERSIST_DEST|VIR_MIGRATE_UNDEFINE_SOURCE)).
      - V(keep) leaves the definitions where they are - the guest runs as a transient domain on a destination that has none, and
        moving it back to its home host joins the inactive definition there (same name and UUID). Use it when a role (re)defines the
        guest on its home hypervisor, such as C(sanboot.lab.libvirt_guest), so that a definition with a new UUID never blocks the
        way back.
    type: str
    choices: [move, keep]
    default: move
  tls:
    description:
      - libvirt - encrypt the migration stream (memory and device state) with TLS (C(VIR_MIGRATE_TLS)), whatever O(destination_uri)
        uses. QEMU on both hosts needs x509 files in qemu.conf's C(migrate_tls_x509_cert_dir) (default C(/etc/pki/qemu)), the
        destination's certificate naming the host of O(migrate_uri); role C(sanboot.lab.libvirt_host) installs them from a CA
        (C(libvirt_host_tls_ca_cert)). libvirt refuses the migration, guest untouched, when they are missing.
    type: bool
    default: false
  announce:
    description:
      - libvirt - when the network learns the guest's new place (RARP frames from each of its MAC addresses, which switches and
        bridges learn from).
      - V(on_resume) - QEMU announces the guest when the destination resumes it. An echo request that reaches the source between its
        pause and that moment dies with the source's tap (at 100 ms pings, about two moves in five lost one here).
      - V(at_switchover) - the destination host announces the guest as soon as libvirt reports the source paused for the switchover.
        A helper started there over O(ssh_command) (user of O(destination_uri), else root; needs C(python3), iproute2 C(bridge); the move
        starts once it answers, at most 5 s) finds the incoming domain's taps (the guest's MAC with C(fe) as first byte, libvirt's rule),
        pins each MAC to its tap in its bridge (C(bridge fdb replace ... static sticky)) while the incoming domain waits, and sends the
        RARP frames through that bridge on the pause (told by a UDP datagram with a random token to a port it opens there, and by ssh).
        Frames for the guest wait in the new tap and reach it when it resumes - late, not lost. The pins are removed at the end; a
        migration that fails after the announcement is announced again from the source. For guests with bridged NICs. The helper
        and the module's libvirt event thread wait at real-time priority (C(SCHED_FIFO) 1; nice -20 where the cgroup forbids it).
      - C(announce) in RV(stats) reports when the frames went out.
    type: str
    choices: [on_resume, at_switchover]
    default: on_resume
  mode:
    description:
      - xl - V(cold) stops the guest with C(xl save) into O(save_dir), copies the file over O(ssh_command) and runs C(xl restore)
        on the destination; a failed or timed-out copy or restore restores the guest on the source. V(live) is C(xl migrate).
      - O(mode=live) is refused before the guest is touched when the source's C(xl info) C(virt_caps) lacks C(shadow) for a PV
        guest (log-dirty mode needs shadow paging - Xen's C(xen/arch/x86/Kconfig), C(SHADOW_PAGING); Debian's Xen has none and
        C(xl migrate) fails with C(Failed to enable logdirty)), or both C(hap) and C(shadow) for HVM/PVH. Xen before 4.14 lists
        neither in C(virt_caps) - it cannot tell, nothing is refused there.
    type: str
    choices: [live, cold]
    default: live
  save_dir:
    description: xl - absolute directory of the O(mode=cold) save file C(DOMAIN.save) on both hosts (C(mkdir -p)).
    type: path
    default: /var/lib/xen/save
  ssh_command:
    description:
      - Command (split like a shell would) that runs a command on another host; the host name and the quoted command are appended.
        Used for the destination's facts and by C(xl migrate -s).
    type: str
    default: ssh -o BatchMode=yes
notes:
  - RV(downtime_ms) and RV(transferred_bytes) are None with xl and xm, which keep no job statistics;
    RV(total_time_ms) is then the wall clock of the migration command.
  - With O(mode=cold) RV(total_time_ms) and RV(downtime_ms) are both the wall clock of the whole move (the guest is stopped throughout).
"""

EXAMPLES = r"""
- name: Move the guest to hv2 over the lab network
  sanboot.lab.live_migration:
    domain: guest1
    source: hv1
    destination: hv2
    destination_uri: qemu+ssh://root@198.51.100.32/system
    migrate_uri: tcp://198.51.100.32
    max_downtime_ms: 50
    storage_network: 198.51.100.0/25
  delegate_to: hv1
  register: moved

- name: Xen with xend (relocation server on port 8002 of dom2)
  sanboot.lab.live_migration:
    domain: web1
    source: dom1
    destination: dom2
    driver: xm
  delegate_to: dom1

- name: Xen without shadow paging (PV guest) - xl save, copy, xl restore
  sanboot.lab.live_migration: {domain: guest1, source: dom1, destination: dom2, driver: xl, mode: cold}
  delegate_to: dom1
"""

RETURN = r"""
location:
  description: Where the guest runs at the end - V(destination), V(source) or V(unknown).
  returned: always
  type: str
total_time_ms:
  description: Duration of the migration in milliseconds (libvirt job time_elapsed, else wall clock).
  returned: success, when migrated
  type: int
total_time_from:
  description: V(hypervisor) or V(wall clock), the source of RV(total_time_ms).
  returned: success, when migrated
  type: str
wall_time_ms:
  description: Wall clock of the migration call in milliseconds, as the module measured it.
  returned: when migrated or attempted
  type: int
downtime_ms:
  description: Time the guest was paused, milliseconds, from the hypervisor's job statistics (libvirt).
  returned: success, when migrated
  type: int
transferred_bytes:
  description: Bytes sent (libvirt data_processed).
  returned: success, when migrated
  type: int
stats:
  description:
    - The job statistics that were available, under libvirt's names - ms (C(setup_time), C(downtime_net), C(time_elapsed_net)),
      bytes (C(memory_total), C(memory_processed), C(memory_remaining), C(memory_normal_bytes), C(data_total), C(data_remaining)),
      pages (C(memory_constant) zero pages sent as a flag, C(memory_normal) pages sent whole, of C(memory_page_size) bytes),
      C(memory_bps) (bytes/s), C(memory_dirty_rate) (pages/s), C(memory_iteration) (pre-copy passes, QEMU's dirty-sync-count).
    - With O(announce=at_switchover), C(announce) - C(announced) (bool), C(announced_after_pause_ms) (milliseconds from the pause
      event to the first frame on the destination; both hosts' clocks), C(go_via) (C(udp) or C(ssh)), C(armed) (NICs pinned on the
      destination, e.g. C(1 of 1 NICs)), C(taps) (each MAC's tap and bridge there), C(errors), C(source_reannounced) (after a failure),
      C(priority) (C(events), C(helper) - C(fifo), C(nice-20) or C(normal), the scheduling each waiting thread got).
    - With O(mode=cold), C(mode), C(save_file), C(save_ms), C(copy_ms), C(restore_ms).
  returned: success, when migrated
  type: dict
errors:
  description: Every failed precheck or option error.
  returned: failure
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._flow import run
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._libvirt import LibvirtDriver
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import DRIVERS, argument_spec, validate

try:
    import libvirt
except ImportError:
    libvirt, LIBVIRT_IMPORT_ERROR = None, traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = validate(module.params)  # every option the driver cannot honour, before libvirt
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors, changed=False)
    driver, runner = module.params["driver"], Runner(module)
    if driver == "libvirt" and libvirt is None:
        module.fail_json(msg=missing_required_lib("libvirt-python (Debian: python3-libvirt)"),
                         exception=LIBVIRT_IMPORT_ERROR)
    run(module, LibvirtDriver(runner, module.params, libvirt) if driver == "libvirt"
        else DRIVERS[driver](runner, module.params))


if __name__ == "__main__":
    main()
