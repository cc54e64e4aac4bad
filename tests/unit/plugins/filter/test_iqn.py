"""Unit tests for the sanboot.lab.iqn filter."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sanboot.lab.plugins.filter.iqn import FilterModule


def test_iqn_filter():
    f = FilterModule().filters()["iqn"]
    assert f("2024-01", "lab.sanboot", "target1") == "iqn.2024-01.lab.sanboot:target1"
    assert f("2024-01", "lab.sanboot") == "iqn.2024-01.lab.sanboot"
    with pytest.raises(AnsibleFilterError, match="sanboot.lab.iqn"):
        f("2024.01", "lab.sanboot", "x")
