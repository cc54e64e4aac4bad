#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: initramfs_aoe
short_description: Make a Debian system mount its root filesystem from an ATA over Ethernet disk
version_added: 0.1.0
description:
  - Configures initramfs-tools in the running system or in an image directory (O(root)) so that
    the initramfs finds the AoE disk C(/dev/etherd/e<shelf>.<slot>) before it mounts the root
    filesystem, and rebuilds the initramfs only when one of the files it manages changed or an
    initramfs is missing. The AoE sibling of M(sanboot.lab.initramfs_iscsi).
  - "Files written under O(root) - C(/etc/initramfs-tools/hooks/sanboot-aoe) (mode 0755: adds the
    C(aoe) driver, the O(root_fstype) driver, C(ip) of iproute2 and C(aoe-discover) of aoetools
    when the system has them, and the settings file to the initramfs);
    C(/etc/initramfs-tools/scripts/local-top/sanboot-aoe) (mode 0755, POSIX sh);
    C(/etc/initramfs-tools/conf.d/sanboot-aoe) (mode 0644: C(AOE_SHELF), C(AOE_SLOT),
    C(AOE_INTERFACES), C(AOE_TIMEOUT)), so the kernel command line needs only C(root=)."
  - "At boot the script brings every O(interfaces) up (C(ip link set IFACE up); AoE needs no IP
    address), loads the driver for them (C(modprobe aoe aoe_iflist=\"IF1 IF2\")), broadcasts a
    discovery (C(aoe-discover), or a write to C(/dev/etherd/discover), which is what
    C(aoe-discover) does) and waits at most O(timeout) seconds for the block device, discovering
    again every second. When the disk does not appear it calls initramfs-tools' C(panic) with the
    device, the interfaces and the timeout (a shell, or a reboot with C(panic=N))."
  - "The kernel parameters C(sanboot_aoe=e<shelf>.<slot>) and C(sanboot_aoe_timeout=<seconds>)
    override the settings file at boot (C(root=) must then name the same device);
    C(sanboot_aoe=off) skips the script (a boot from another root)."
  - With C(ip=) on the kernel command line (O(ip)) the script calls initramfs-tools'
    C(configure_networking) after the disk appeared, so the booted system keeps that address.
  - "For the booted system the script writes C(/run/sanboot-aoe), C(key=value) lines - C(device),
    C(shelf), C(slot), C(interfaces), C(timeout_seconds), C(waited_seconds). When the initramfs
    holds C(/etc/sanboot-boot-id) - a boot-image build may append a small cpio archive holding it
    to the initrd (the kernel unpacks concatenated archives) - it is copied to
    C(/run/sanboot-boot-id), so the booted system can tell which boot image it runs."
  - The module does not edit boot loader files; it returns RV(kernel_cmdline) for the boot loader,
    PXE entry or hypervisor configuration.
  - Refused before anything changes, naming the option - a shelf or slot out of range (AoE
    protocol r11 section 2.3; the broadcast shelf 0xffff and slot 0xff included); an interface
    name that is not a Linux one; a timeout out of range; an O(ip) the kernel cannot parse; an
    O(root) that is not a directory or has no initramfs-tools; a selected kernel without the aoe
    driver; a symbolic link below O(root) in the way of a managed file (nothing is read, written
    or removed outside O(root)).
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - initramfs-tools and a kernel with the aoe driver (CONFIG_ATA_OVER_ETH) in O(root); C(chroot)
    when O(root) is not C(/)
attributes:
  check_mode:
    description: Reports what would change and which initramfs would be rebuilt; writes nothing.
    support: full
  diff_mode:
    description: Returns the before and after content of every file it changes.
    support: full
options:
  root:
    description: The system to configure, V(/) for the running one or an image directory.
    type: path
    default: /
  state:
    description: V(absent) removes the three files (and rebuilds the initramfs when one was there).
    type: str
    choices: [present, absent]
    default: present
  shelf:
    description:
      - AoE shelf (major) address of the root disk, 0-65534 (16 bits; 65535 is the broadcast
        shelf, AoE protocol r11 section 2.3).
      - Required with O(state=present).
    type: int
  slot:
    description:
      - AoE slot (minor) address of the root disk, 0-254 (8 bits; 255 is the broadcast slot).
      - Required with O(state=present).
    type: int
  interfaces:
    description:
      - Interfaces of the booted machine the aoe driver uses (C(aoe_iflist)) and the script brings
        up; names of 1-15 characters of C(A-Z a-z 0-9 _ . -), not V(lo), each once.
    type: list
    elements: str
    default: [eth0]
  timeout:
    description: Seconds (1-600) the initramfs waits for the AoE disk before it panics.
    type: int
    default: 30
  ip:
    description:
      - The C(ip=) kernel parameter, validated like M(sanboot.lab.initramfs_iscsi)'s - V(dhcp), the
        kernel form C(ADDR::GW:MASK:HOST:IFACE:off), or a dict with C(address) (C(ADDR) or
        C(ADDR/PREFIX)), C(prefix), C(gateway) and C(hostname).
      - Omitted - no C(ip=) (AoE itself needs no address).
    type: raw
  root_fstype:
    description: Filesystem type of the root filesystem (C(rootfstype=)); its kernel module of the
      same name is added to the initramfs.
    type: str
    default: ext4
  update:
    description: Rebuild the initramfs (C(update-initramfs -u -k VERSION), in C(chroot ROOT) for an
      image) when a managed file changed or the initramfs of a selected kernel is missing.
    type: bool
    default: true
  kernels:
    description: Kernel versions to rebuild the initramfs for, or V([all]) for every installed one.
    type: list
    elements: str
    default: [all]
notes:
  - The boot timeline is in C(docs/netboot.md) (section "AoE root").
  - AoE has no authentication; the driver takes the first target answering for the address on
    the listed interfaces, so keep them on the storage network.
seealso:
  - name: Linux aoe driver documentation
    description: Interfaces, discovery and device names of the aoe driver.
    link: https://docs.kernel.org/admin-guide/aoe/aoe.html
  - module: sanboot.lab.aoe_export
  - module: sanboot.lab.initramfs_iscsi
  - module: sanboot.lab.pxe_server
    description: Network boot (DHCP, TFTP, iPXE sanboot) of the guest.
"""

EXAMPLES = r"""
- name: Guest image whose root is the lab's AoE export e3.1 on eth0, static address
  sanboot.lab.initramfs_aoe:
    root: /var/cache/sanboot-lab/guest/root
    shelf: 3
    slot: 1
    interfaces: [eth0]
    timeout: 60
    ip: {address: 198.51.100.43/25, gateway: 198.51.100.1, hostname: guest3}
  register: aoe_root

- name: Hand the kernel command line to the PXE entry
  ansible.builtin.debug:
    msg: "{{ aoe_root.kernel_cmdline | join(' ') }}"

- name: Remove the AoE boot files again
  sanboot.lab.initramfs_aoe:
    root: /var/cache/sanboot-lab/guest/root
    state: absent
"""

RETURN = r"""
kernel_cmdline:
  description: Parameters the boot loader, PXE entry or hypervisor must pass; empty with
    O(state=absent).
  returned: always
  type: list
  elements: str
  sample: [root=/dev/etherd/e3.1, rootfstype=ext4, ro, "ip=198.51.100.43::198.51.100.1:255.255.255.128:guest3::off"]
device:
  description: The AoE block device the initramfs waits for.
  returned: when O(state=present)
  type: str
  sample: /dev/etherd/e3.1
initrd:
  description: Initramfs paths of the selected kernels (under O(root)).
  returned: always
  type: list
  elements: str
  sample: [/boot/initrd.img-6.1.0-28-amd64]
kernels:
  description: The selected kernel versions with their kernel and initramfs paths.
  returned: always
  type: list
  elements: dict
  sample: [{version: 6.1.0-28-amd64, kernel: /boot/vmlinuz-6.1.0-28-amd64,
            initrd: /boot/initrd.img-6.1.0-28-amd64}]
files:
  description: Files changed (or that would change in check mode), under O(root).
  returned: always
  type: list
  elements: str
rebuilt:
  description: Kernel versions whose initramfs was (or in check mode would be) rebuilt.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _aoe_root as aoe
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _initramfs as ir
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            shelf=dict(type="int"),
            slot=dict(type="int"),
            interfaces=dict(type="list", elements="str", default=["eth0"]),
            timeout=dict(type="int", default=30),
            ip=dict(type="raw"),
            root_fstype=dict(type="str", default="ext4"),
            update=dict(type="bool", default=True),
            kernels=dict(type="list", elements="str", default=["all"]),
        ),
        required_if=[("state", "present", ("shelf", "slot"))],
        supports_check_mode=True,
    )
    root = module.params["root"]
    try:
        req = aoe.normalise(module.params)
        errors = aoe.check_root(root)
        if errors:
            module.fail_json(msg="; ".join(errors), option="root")
        versions = aoe.select(req, root)
        plan = aoe.plan_files(req, root)
    except ir.RequestError as e:
        module.fail_json(msg=str(e), option=e.option)

    changed_files = [c for c in plan if c.changed]
    rebuild = []
    if module.params["update"]:
        if req["state"] == "present":
            rebuild = ir.kernels_to_rebuild(versions, bool(changed_files), root)
        elif changed_files:
            rebuild = list(versions)
    ir.apply_plan(module, Runner(module), root, changed_files, rebuild)

    result = dict(
        changed=bool(changed_files or rebuild),
        kernel_cmdline=aoe.kernel_cmdline(req),
        files=[ir.rpath(root, c.rel) for c in changed_files],
        rebuilt=rebuild,
        **ir.boot_files(root, versions)
    )
    if req["state"] == "present":
        result["device"] = req["device"]
    if module._diff:
        result["diff"] = [ir.diff_entry(c, root) for c in changed_files]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
