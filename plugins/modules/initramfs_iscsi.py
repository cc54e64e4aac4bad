#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: initramfs_iscsi
short_description: Make a Debian or Ubuntu system boot with its root filesystem on iSCSI
version_added: 0.1.0
description:
  - Configures open-iscsi's initramfs-tools hook in the running system or in an image directory
    (O(root)) so that the initramfs logs in to an iSCSI target before it mounts the root filesystem,
    and rebuilds the initramfs only when one of the files it manages changed or an initramfs is
    missing.
  - "Files written under O(root): C(/etc/iscsi/iscsi.initramfs) (mode 0600: C(ISCSI_TARGET_NAME),
    C(ISCSI_TARGET_IP) with every portal separated by spaces, C(ISCSI_TARGET_PORT), C(ISCSI_USERNAME),
    C(ISCSI_PASSWORD), C(ISCSI_IN_USERNAME), C(ISCSI_IN_PASSWORD), or C(ISCSI_AUTO=true) for iBFT;
    read by open-iscsi 2.1.8's C(hooks/iscsi) and C(scripts/local-top/iscsi)),
    C(/etc/iscsi/initiatorname.iscsi) (O(initiator_name)),
    C(/etc/initramfs-tools/conf.d/sanboot-iscsi-umask) (C(UMASK=0077) when O(chap) is set, so the
    initramfs holding the secrets is readable by root only; see initramfs.conf(5)),
    C(/etc/initramfs-tools/scripts/local-top/sanboot_lvm_settle) (O(lvm_settle_delay)) and, for
    O(boot_interface), the network configuration files."
  - The CHAP secrets stay in the 0600 file and are never put on the kernel command line
    (C(/proc/cmdline) is world-readable), so the lower-case C(iscsi_*) kernel parameters are not
    used.
  - The module does not edit boot loader files such as C(/etc/default/grub); it returns
    RV(kernel_cmdline) for the boot loader or hypervisor configuration.
  - Before anything changes it checks that the kernel (C(/boot/vmlinuz-VERSION) and
    C(/lib/modules/VERSION)), initramfs-tools and open-iscsi are installed in O(root).
  - Also refused before anything changes, naming the option - a symbolic link below O(root) in the
    way of a file it reads or writes (such as C(etc/iscsi) pointing out of an image; nothing is
    read, written or chmod'ed outside O(root)); control characters or line breaks in any string
    option; blanks, quotes, backslashes or shell characters in O(root_device), O(ip) and
    O(clocksource), which become words of the kernel command line.
  - Files are replaced atomically (a new temporary file created with its final mode, synced,
    renamed over the old one), so the secrets file is never readable by others, not even briefly.
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - initramfs-tools, open-iscsi and a kernel in O(root); C(chroot) when O(root) is not C(/)
attributes:
  check_mode:
    description: Reports what would change and which initramfs would be rebuilt; writes nothing.
    support: full
  diff_mode:
    description: Returns the before and after content of every file or volume it changes.
    support: full
options:
  root:
    description: The system to configure, V(/) for the running one or an image directory.
    type: path
    default: /
  target:
    description:
      - IQN of the target that holds the root filesystem (RFC 3720 section 3.2.6.3).
      - Required unless O(firmware=true).
    type: str
  portals:
    description:
      - IP addresses of the target's portals; the initramfs logs in once through each
        (C(iscsistart) per address). The port is O(port).
      - Required unless O(firmware=true).
    type: list
    elements: str
    default: []
  port:
    description: TCP port of every portal.
    type: int
    default: 3260
  lun:
    description: LUN of the root disk, used by the default C(root=iscsi:...) of O(root_device).
    type: int
    default: 1
  initiator_name:
    description:
      - IQN of this system as initiator, written to C(/etc/iscsi/initiatorname.iscsi) (other lines
        of that file are kept).
      - When omitted the file must already name one (C(InitiatorName=)).
    type: str
  chap:
    description: CHAP credentials for the login; secrets need at least 12 characters (RFC 3720 section 8.2.1).
    type: dict
    suboptions:
      username:
        description: One-way CHAP user name (the target authenticates the initiator).
        type: str
      password:
        description: One-way CHAP secret.
        type: str
      mutual_username:
        description: Mutual CHAP user name (the initiator authenticates the target).
        type: str
      mutual_password:
        description: Mutual CHAP secret.
        type: str
  firmware:
    description:
      - Take target, portal, CHAP and network from the iSCSI Boot Firmware Table (iBFT) instead
        (C(ISCSI_AUTO=true)); O(target), O(portals) and O(chap) must then be omitted and
        O(root_device) given.
    type: bool
    default: false
  root_device:
    description:
      - The C(root=) kernel parameter without C(root=), for example V(LABEL=guestroot),
        V(UUID=...), V(/dev/mapper/vg0-root) or V(iscsi:ADDR::PORT:LUN:IQN).
      - Default C(iscsi:PORTAL::PORT:LUN:TARGET), which makes open-iscsi find the file system on the
        whole LUN itself; it needs exactly one IPv4 portal and no O(firmware).
    type: str
  lvm_settle_delay:
    description:
      - Seconds (0-600) the initramfs waits, after the iSCSI login, for udev to settle and for the
        root device to appear before it activates LVM volume groups itself. V(0) writes no script
        (and removes an earlier one).
    type: int
    default: 0
  clocksource:
    description:
      - Clock source kernel parameter returned in RV(kernel_cmdline), for example V(jiffies) for a
        Xen domU whose clock could run backwards and break the iSCSI TCP session.
    type: str
  boot_interface:
    description:
      - The interface the kernel configures through C(ip=) and over which the root disk is reached.
      - Its stanzas in C(/etc/network/interfaces) and C(/etc/network/interfaces.d/*) are commented
        out (the rest of the files stays byte-identical); where systemd-networkd is installed a
        C(/etc/systemd/network/05-sanboot-IFACE.network) with C(Unmanaged=yes) (networkd would
        otherwise reconfigure the interface under the mounted root) plus a drop-in that keeps
        C(systemd-networkd-wait-online) from waiting 120 seconds for that unmanaged link, where
        NetworkManager is installed a C(conf.d) file with C(unmanaged-devices+=) is written.
    type: str
  ip:
    description:
      - The C(ip=) kernel parameter. V(dhcp); or the kernel form C(ADDR::GW:MASK:HOST:IFACE:off)
        passed through (a static address avoids a 10 second DHCP timeout); or a dict with
        C(address) (C(ADDR) or C(ADDR/PREFIX)), C(prefix), C(gateway) and C(hostname).
      - Default V(dhcp), or no C(ip=) at all with O(firmware=true).
    type: raw
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
  - Several portals end up as C(ISCSI_TARGET_IP="A B") (only the first with O(multipath)); open-iscsi 2.1.8 logs in to each.
extends_documentation_fragment:
  - sanboot.lab.initramfs_multipath
seealso:
  - name: open-iscsi README.Debian
    description: The initramfs configuration file and kernel parameters.
    link: https://salsa.debian.org/linux-blocks-team/open-iscsi/-/blob/master/debian/README.Debian
  - module: sanboot.lab.initramfs_aoe
"""

EXAMPLES = r"""
- name: Root on the lab target, static address, LVM root waiting 5 s for the disk
  sanboot.lab.initramfs_iscsi:
    root: /var/cache/sanboot-lab/guest/root
    target: iqn.2024-01.lab.sanboot:guest1
    portals: [198.51.100.10]
    lun: 1
    initiator_name: iqn.2024-01.lab.sanboot:guest1-boot
    chap:
      username: guest1
      password: "{{ vault_guest1_chap }}"
    root_device: /dev/mapper/vg0-root
    lvm_settle_delay: 5
    boot_interface: eth0
    ip: {address: 198.51.100.30/25, gateway: 198.51.100.1, hostname: guest1}
  register: boot

- name: Root on a dm-multipath map over both storage networks (root=/dev/mapper/sanroot)
  sanboot.lab.initramfs_iscsi:
    target: iqn.2024-01.lab.sanboot:guest1
    portals: [198.51.100.1, 198.51.100.129]
    multipath: true
    multipath_wwid: 360000000000000000e00000000010001
    multipath_interfaces: [{interface: eth1, address: 198.51.100.198/25}]

- name: Firmware (iBFT) boot
  sanboot.lab.initramfs_iscsi:
    firmware: true
    root_device: LABEL=root
"""

RETURN = r"""
kernel_cmdline:
  description: Parameters the boot loader or hypervisor must pass (no secrets).
  returned: always
  type: list
  elements: str
  sample: ["ip=198.51.100.30::198.51.100.1:255.255.255.128:guest1:eth0:off",
           "root=iscsi:198.51.100.10::3260:1:iqn.2024-01.lab.sanboot:guest1", "clocksource=jiffies"]
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

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _initramfs as ir
from ansible_collections.sanboot.lab.plugins.module_utils.boot._cmdline import kernel_cmdline
from ansible_collections.sanboot.lab.plugins.module_utils.boot._render import redact_conf
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            target=dict(type="str"),
            portals=dict(type="list", elements="str", default=[]),
            port=dict(type="int", default=3260),
            lun=dict(type="int", default=1),
            initiator_name=dict(type="str"),
            chap=dict(type="dict", options=dict(
                username=dict(type="str"),
                password=dict(type="str", no_log=True),
                mutual_username=dict(type="str"),
                mutual_password=dict(type="str", no_log=True),
            )),
            firmware=dict(type="bool", default=False),
            root_device=dict(type="str"),
            lvm_settle_delay=dict(type="int", default=0),
            clocksource=dict(type="str"),
            boot_interface=dict(type="str"),
            ip=dict(type="raw"),
            update=dict(type="bool", default=True),
            kernels=dict(type="list", elements="str", default=["all"]),
            multipath=dict(type="bool", default=False), multipath_alias=dict(type="str", default="sanroot"),
            multipath_wwid=dict(type="str"), multipath_wait=dict(type="int", default=30), multipath_interfaces=dict(type="list", elements="dict", default=[]),
        ),
        supports_check_mode=True,
    )
    root = module.params["root"]
    try:
        req, warnings = ir.normalise(module.params)
        errors = ir.check_root(root, bool(module.params["multipath"]))
        if errors:
            module.fail_json(msg="; ".join(errors), option="root")
        versions = ir.select_kernels(req["kernels"], ir.installed_kernels(root), root)
        plan, more = ir.plan_files(req, root)
    except ir.RequestError as e:
        module.fail_json(msg=str(e), option=e.option)
    for w in warnings + more:
        module.warn(w)

    changed_files = [c for c in plan if c.changed]
    rebuild = ir.kernels_to_rebuild(versions, bool(changed_files), root) if module.params["update"] else []
    ir.apply_plan(module, Runner(module), root, changed_files, rebuild)

    diff = []
    for c in changed_files:
        if c.rel == ir.ISCSI_CONF:
            diff.append(ir.diff_entry(c, root, redact_conf(c.after), redact_conf(c.before)))
        else:
            diff.append(ir.diff_entry(c, root))
    result = dict(
        changed=bool(changed_files or rebuild),
        kernel_cmdline=kernel_cmdline(req),
        files=[ir.rpath(root, c.rel) for c in changed_files],
        rebuilt=rebuild,
        **ir.boot_files(root, versions)
    )
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
