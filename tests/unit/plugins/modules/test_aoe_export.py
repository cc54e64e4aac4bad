# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aoe_export's main() against test_aoe_export.yaml (systemctl, kill and setsid answers;
unit, environment, pid and log files and /proc under tmp_path)."""

import pytest

from _helper import Table  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import aoe_export

TABLE = Table(aoe_export, __file__)


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
