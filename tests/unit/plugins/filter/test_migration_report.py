# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration_report filter: its name and its error type."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sanboot.lab.plugins.filter.migration_report import FilterModule


def test_filter_registered_and_errors_wrapped():
    f = FilterModule().filters()["migration_report"]
    with pytest.raises(AnsibleFilterError, match="did not finish"):
        f([{"direction": "a", "result": {}, "ping": ""}])
    with pytest.raises(AnsibleFilterError, match="migration_report"):
        f([{"result": {}, "ping": "1 packets transmitted, 1 received"}])
