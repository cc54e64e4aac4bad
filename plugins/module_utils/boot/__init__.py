# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Booting from the SAN (private): the initramfs_iscsi request and plan (``_initramfs``), the
kernel command line (``_cmdline``) and the files written into the image (``_render``).

May import from ``common`` only.
"""
