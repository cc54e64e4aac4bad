# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""initramfs_aoe's main() against test_initramfs_aoe.yaml (an image root under tmp_path;
update-initramfs runs through chroot).  ``mocks: {installed: {...}}`` lays the three files as an
earlier run with those options left them (rendered, not copied into the table)."""

import os

import pytest

from _helper import Table  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _aoe_root as aoe
from ansible_collections.sanboot.lab.plugins.modules import initramfs_aoe


def installed(spec, ctx):
    """Write the files of ``spec`` (module options; ``root`` relative to the case's directory)."""
    options = dict(state="present", interfaces=["eth0"], timeout=30, ip=None, root_fstype="ext4",
                   kernels=["all"])
    options.update(spec)
    root = os.path.join(ctx.tmp, options.pop("root"))
    for change in aoe.plan_files(aoe.normalise(options), root):
        path = os.path.join(root, change.rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(change.after)
        os.chmod(path, change.mode)


TABLE = Table(initramfs_aoe, __file__, mocks=dict(installed=installed))


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
