"""Unit tests for _units."""

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common._units import format_size, parse_size


@pytest.mark.parametrize("value, expected", [
    (4096, 4096), ("4096", 4096), ("512MiB", 512 << 20), ("1G", 1 << 30), ("1g", 1 << 30),
    ("1GiB", 1 << 30), ("1GB", 10 ** 9), ("1.5K", 1536), ("10 M", 10 << 20), ("7B", 7),
    ("2T", 2 << 40),
])
def test_parse(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "1Gi", "-1", -1, True, "1X"])
def test_parse_bad(value):
    with pytest.raises(ValueError, match="disk_size"):
        parse_size(value, what="disk_size")


def test_format():
    assert format_size(512 << 20) == "512MiB"
    assert format_size(1 << 30) == "1GiB"
    assert format_size(1000) == "1000B"
