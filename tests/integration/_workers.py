# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The integration suite on two pytest-xdist workers (``make test``: ``-n 2``).

A test file is a worker's unit of work, except the files of the two groups below: the files of a
group share something of this host and run one after the other on one worker (read from every
file, 2026-12-04, issue 13). ``TESTBED``:

- the kernel testbed: one VM, its data disk and its iscsid/multipathd per pytest process, a file
  lock (/var/lib/sanboot-lab/testbed.lock) that another worker would wait on for the whole session;
- tgtd control port 87 (test_iscsi_initiator_ipv6, test_san_target_publish_image).

``HOST_DAEMONS``:

- the portal 127.0.0.1:3272 (test_iscsi_probe, test_fault_tgtd);
- the abuse tests' check that hostile input starts or stops no daemon: they compare the tgtd and
  vblade processes of the host's mount namespace that their own worker started (``_abuse.processes``)
  before and after each case, so no file of the same worker may start or stop one meanwhile; and
  /run/sanboot-vblade, whose files test_abuse_aoe watches (no file of ``TESTBED`` runs a vblade).

The two groups use distinct control ports (``TESTBED``: 80, 87, 88; checked by
tests/unit/test_integration_groups.py) and portals, so they may run side by side. The modules'
one-writer guard asks every running tgtd for its stores, also those of the other group: one that
stops meanwhile is left out (``_stores.tgtd_alive``), and none of the groups leaves a tgtd that
listens without answering. ``INDEPENDENT`` files start none of these (their QEMU VMs, namespaces,
bridges, taps and addresses have names of their own). A new test file has to be put in one of the
three lists (tests/unit/test_integration_groups.py). Before the workers start, ``prepare`` makes
what files (and molecule, beside them in ``make test``) would otherwise create at the same time on
a fresh machine: the lab bridges and key, the guest image's base root and the lab's container image.
"""

from __future__ import annotations

import json
import os

from _ansible import ansible_env, command, run_json
from _images import cached_guest_root, cached_lab_image

TESTBED = frozenset([
    "test_testbed.py", "test_lvm_lun.py", "test_iscsi_initiator_ipv6.py", "test_multipath_failover.py",
    "test_lvm_root.py", "test_san_target_publish_image.py",
])

HOST_DAEMONS = frozenset([
    # the abuse tests that watch their worker's tgtd and vblade, and /run/sanboot-vblade
    "test_abuse_aoe.py", "test_abuse_iscsi_probe.py", "test_abuse_live_migration.py", "test_abuse_lvm_lun.py",
    "test_aoe.py", "test_fault_vblade.py",
    # files that start or stop tgtd or vblade in the host's mount namespace (portal 127.0.0.1:3272 twice)
    "test_abuse_iscsi_target.py", "test_fault_tgtd.py", "test_iscsi_initiator_records.py", "test_iscsi_probe.py",
    "test_iscsi_target.py", "test_iscsi_target_info.py", "test_multipath_root_boot.py",
])

INDEPENDENT = frozenset([
    "test_xen_real.py", "test_guest_image_syslinux.py", "test_initramfs_iscsi.py", "test_pxe_server.py",
    "test_migrate_announce.py", "test_abuse_initramfs_iscsi.py", "test_lab_network_guard.py",
    "test_live_migration_xen.py", "test_live_migration_libvirt.py", "test_xen_relocation.py",
    "test_xenserver_iscsi_boot.py",
])

# The units longest first (serial seconds of a two-worker run, 2026-12-04): testbed 561, Xen 331,
# host-daemons 314, syslinux boots 78, initramfs builds 66, ...; a unit not named here comes last.
ORDER = (
    "testbed", "test_xen_real.py", "host-daemons", "test_guest_image_syslinux.py", "test_initramfs_iscsi.py",
    "test_xen_relocation.py", "test_xenserver_iscsi_boot.py", "test_migrate_announce.py",
    "test_live_migration_xen.py", "test_pxe_server.py", "test_lab_network_guard.py",
    "test_abuse_initramfs_iscsi.py", "test_live_migration_libvirt.py",
)

LAB_KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"


def group_of(path):
    """The unit of work of a test file: ``testbed``, ``host-daemons`` or the file's own name."""
    name = os.path.basename(str(path))
    if name in TESTBED:
        return "testbed"
    return "host-daemons" if name in HOST_DAEMONS else name


def rank(path):
    """Where a file's unit comes in the order the workers are given them (``ORDER``)."""
    unit = group_of(path)
    return ORDER.index(unit) if unit in ORDER else len(ORDER)


def scheduler(config, log):
    """xdist's load-scope scheduling with ``group_of`` as the scope, the units handed out in the
    collection's order (``rank``; xdist would otherwise put the units with most tests first).
    Not xdist_group marks: xdist 3.8 writes the group into ``item._nodeid``, which pytest 9 no
    longer reads, so they group nothing (measured: one run with them split the group)."""
    from xdist.scheduler import LoadScopeScheduling  # pylint: disable=import-outside-toplevel

    class FileGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid.split("::", 1)[0])

    config.option.loadscopereorder = False
    return FileGroups(config, log)


def prepare():
    """The lab bridges (lab_networks of inventories/local), the lab key, the guest image's base
    root and the lab's container image: made once here, so that two workers (or a worker and
    molecule, which ``make test`` runs beside the integration suite) never create the same thing at
    the same time. ``python tests/integration/_workers.py`` runs it (``make test-prepare``)."""
    role = "ansible.builtin.include_role"
    play = [{"name": "Prepare what the integration workers share", "hosts": "localhost",
             "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
             "tasks": [
                 {"name": "Check the lab networks", role: {"name": "sanboot.lab.lab", "tasks_from": "validate.yml"},
                  "vars": {"lab_hosts": []}},
                 {"name": "Create the lab bridges", role: {"name": "sanboot.lab.lab", "tasks_from": "network.yml"}},
                 {"name": "Create the key directory", "ansible.builtin.file": {
                     "path": os.path.dirname(LAB_KEY), "state": "directory", "mode": "0700"}},
                 {"name": "Create the lab key", "ansible.builtin.command": {
                     "argv": ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sanboot-lab", "-f", LAB_KEY],
                     "creates": LAB_KEY}},
             ]}]
    proc, out = run_json([command("ansible-playbook"), "/dev/stdin"], env=ansible_env(),
                         input=json.dumps(play))
    if proc.returncode != 0 or not out:
        raise RuntimeError("preparing the integration workers failed:\n%s\n%s"
                           % (proc.stdout[-4000:], proc.stderr[-2000:]))
    cached_guest_root()
    cached_lab_image()


if __name__ == "__main__":
    prepare()
