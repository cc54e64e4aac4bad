# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_target's main() against test_iscsi_target.yaml (tgtadm answers in tgt 1.0.85's format;
the persisted configs, the lock, /var/run/tgtd and /proc under tmp_path)."""

import pytest

from _helper import Table  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import iscsi_target

TABLE = Table(iscsi_target, __file__)


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
