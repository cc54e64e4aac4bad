# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""initramfs_iscsi's main() against test_initramfs_iscsi.yaml (an image root under tmp_path;
update-initramfs runs through chroot)"""

import pytest

from _helper import Table  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import initramfs_iscsi

TABLE = Table(initramfs_iscsi, __file__)


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
