# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_lun abuse table: names LVM refuses, or that would reach an LVM command as an option, and
sizes that are no size are refused by name before any LVM command runs (nothing changes)."""

from __future__ import annotations

import pytest

from _abuse import assert_refused  # noqa: E402  pylint: disable=import-error

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kw, option", [
    ({"vg": "-ay"}, "vg"),
    ({"vg": "san vg"}, "vg"),
    ({"vg": "../san"}, "vg"),
    ({"name": "--test"}, "name"),
    ({"name": "a/b"}, "name"),
    ({"name": "lun\n"}, "name"),
    ({"name": "snapshot1"}, "name"),
    ({"name": "lun_rimage_0"}, "name"),
    ({"size": "0"}, "size"),
    ({"size": "-1G"}, "size"),
    ({"size": "1G; reboot"}, "size"),
])
def test_lvm_lun_refuses(tmp_path, kw, option):
    args = dict(vg="sbivg", name="lun1", size="4MiB")
    args.update(kw)
    assert_refused("lvm_lun", args, option, tmp_path, watch=dict(paths=["/etc/lvm/backup"]))
