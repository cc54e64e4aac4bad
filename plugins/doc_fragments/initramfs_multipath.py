# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The multipath options of sanboot.lab.initramfs_iscsi (root on a dm-multipath map)."""

    DOCUMENTATION = r"""
options:
  multipath:
    description:
      - Root file system on a dm-multipath map of the LUN reached over every portal (one per
        storage network), built in the initramfs. Needs C(multipath-tools-boot) in O(root) and two
        or more O(portals); not with O(firmware).
      - "Writes C(/etc/multipath.conf) (C(user_friendly_names), C(find_multipaths) C(strict) with
        O(multipath_wwid) else C(yes), C(path_grouping_policy multibus), C(fast_io_fail_tmo 5),
        local disks blacklisted, C(no_path_retry queue) for the root map; reasons in its comments),
        C(/etc/multipath/wwids) (O(multipath_wwid)) and the initramfs script
        C(/etc/initramfs-tools/scripts/local-top/sanboot_iscsi_multipath)."
      - open-iscsi's C(local-top/iscsi) configures only the C(ip=) interface, so
        C(iscsi.initramfs) names only the first portal (which must be reachable over that
        interface); the script configures O(multipath_interfaces), logs in to every other portal
        with C(iscsistart), waits for the LUN behind each (O(multipath_wait)) and runs
        C(multipath -v0) (as multipath-tools-boot's C(local-top/multipath) does).
      - The paths keep open-iscsi's timers in the initramfs; in the booted system multipathd sets
        each session's C(recovery_tmo) to C(fast_io_fail_tmo) (the multipath profile of the role
        C(iscsi_initiator)); the map itself queues I/O while every path is down (the long timeout of
        an iSCSI root, open-iscsi README 8.2).
    type: bool
    default: false
  multipath_alias:
    description: Name of the root map, C(/dev/mapper/NAME) (used with O(multipath_wwid)).
    type: str
    default: sanroot
  multipath_wwid:
    description:
      - WWID of the root LUN as C(multipath -ll) or C(/lib/udev/scsi_id -g -u) print it. Gives the
        map the name O(multipath_alias) and makes C(root=/dev/mapper/NAME) the default
        O(root_device). Without it O(root_device) is required (for example V(LABEL=root)).
    type: str
  multipath_interfaces:
    description:
      - Interfaces of the other storage networks, configured by the initramfs (static, no gateway)
        before it logs in to the other portals; each a dict with C(interface) and C(address)
        (C(ADDR/PREFIX), IPv4). Like O(boot_interface) they are left alone by the network tools of
        the booted system (the same files are written for each).
    type: list
    elements: dict
    default: []
  multipath_wait:
    description: Seconds (1-600) the initramfs waits for the sessions and the LUN behind every portal.
    type: int
    default: 30
"""
