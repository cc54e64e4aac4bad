# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM logical volumes as LUN backing stores (private): read, plan and apply (``_lvm``).

May import from ``common`` only.
"""
