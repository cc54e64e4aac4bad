# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The initiator side (private): userspace iSCSI probes through libiscsi (``_libiscsi``); the
open-iscsi node records and sessions of ``iscsi_initiator`` (``_node_plan`` request and plan,
``_iscsiadm`` commands and parsers, ``_devices`` sysfs disks, ``_initiator`` read -> apply).

May import from ``common`` only.
"""
