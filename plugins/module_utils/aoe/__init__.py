# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ATA over Ethernet (private): the protocol client (``_protocol``), aoe_probe option checks
(``_check``), vblade exports (``_vblade`` plans, ``_supervise`` runs the daemons).

May import from ``common`` only.
"""
