# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration (private): the driver contract and the table of the options each driver
honours (``_driver``), the checks of options and facts (``_plan``), the flow every driver
shares (``_flow``), the drivers (``_libvirt`` with ``_libvirt_facts``, ``_xl``, ``_xm``), the
gratuitous ARP/RARP announce (``_announce``) and the migration report (``_report``).

May import from ``common`` only.
"""
