# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The initiator side (private): userspace iSCSI probes through libiscsi (``_libiscsi``);
later open-iscsi.

May import from ``common`` only.
"""
