# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces shared by the initramfs-tools boot scripts and hooks the boot modules write."""

from __future__ import annotations


def prereqs(prereq=""):
    """The ``prereqs`` protocol of an initramfs-tools script or hook (initramfs-tools(7), "Boot
    scripts"): ``$1 = prereqs`` prints the scripts this one runs after, then exits."""
    return """PREREQ="%s"
prereqs()
{
    echo "$PREREQ"
}
case $1 in
prereqs)
    prereqs
    exit 0
    ;;
esac
""" % prereq
