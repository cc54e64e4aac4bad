# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Common layer (private): the one command runner, errors, atomic files, backing-store identity
and who exports a store, units, iSCSI names, CHAP, locks, network interface names.

Imports nothing from the domain packages (target, aoe, boot, migrate, initiator, lvm): every
domain may import from here, never the other way round.
"""
