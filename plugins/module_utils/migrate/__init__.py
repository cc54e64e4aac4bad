# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration (private): the driver contract, option table and planning (``_driver``),
the drivers (``_libvirt``, ``_xl``, ``_xm``), the gratuitous ARP/RARP announce (``_announce``)
and the migration report (``_report``).

May import from ``common`` only.
"""
