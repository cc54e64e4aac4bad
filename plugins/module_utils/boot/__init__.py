# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Booting from the SAN (private): the initramfs_iscsi request and plan (``_initramfs``), the
kernel command line (``_cmdline``) and the files written into the image (``_render``); the
initramfs_aoe request and plan (``_aoe_root``, reusing ``_initramfs``' file plan and rebuild)
and its hook, boot script and settings (``_aoe_render``); the pxe_server request (``_pxe``,
``_pxe_args``), its renderers (``_pxe_render``: dnsmasq, iPXE, pxelinux) and its TFTP tree
with boot-image generations (``_pxe_tree``).

May import from ``common`` only.
"""
