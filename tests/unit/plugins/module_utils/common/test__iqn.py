"""Unit tests for _iqn (RFC 3720 section 3.2.6 names)."""

import datetime

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import (
    IQNError, build_iqn, is_valid, validate)

TODAY = datetime.date(2026, 11, 21)


@pytest.mark.parametrize("name", [
    "iqn.2008-06.biz.frode:storage.vmware",
    "iqn.2024-01.lab.sanboot",
    "iqn.1992-01.com.example:storage:diskarrays-sn-a8675309",
    "eui.02004567a425678d",
    "naa.52004567ba64678d",
    "naa.62004567ba64678d0123456789abcdef",
])
def test_valid(name):
    assert validate(name, today=TODAY) == (name, [])


@pytest.mark.parametrize("name, words", [
    ("iqn.2008.06.biz.frode:storage.vmware", ["dot", "dash", "3.2.6.3.1"]),
    ("iqn.2008-13.biz.frode", ["month 13"]),
    ("iqn.2008-06.-biz.frode", ["reversed domain"]),
    ("iqn.2008-06.biz.frode:", ["no unique id"]),
    ("iqn.2008-06.biz_frode:x", ["RFC 3722", "'_'"]),
    ("iqn.2008-06.biz.frode:a b", ["RFC 3722"]),
    ("eui.02004567a425678", ["16 hex"]),
    ("eui.02004567a425678g", ["16 hex"]),
    ("naa.1234", ["RFC 3980"]),
    ("foo.2008-06.biz", ["must start with"]),
    ("", ["non-empty"]),
    ("iqn.2008-06.biz.frode:" + "x" * 210, ["223"]),
])
def test_invalid(name, words):
    with pytest.raises(IQNError) as e:
        validate(name, what="name", today=TODAY)
    for w in words:
        assert w in str(e.value)
    assert str(e.value).startswith("name: ")
    assert not is_valid(name)


def test_exactly_223_bytes():
    name = "iqn.2008-06.biz.frode:" + "x" * (223 - 22)
    assert len(name) == 223 and validate(name, today=TODAY)[0] == name


def test_upper_case_folded_with_warning():
    norm, warns = validate("IQN.2008-06.Biz.Frode:Disk1", today=TODAY)
    assert norm == "iqn.2008-06.biz.frode:disk1"
    assert len(warns) == 1 and "lower case" in warns[0]
    assert is_valid("EUI.02004567A425678D")


def test_current_month_warns():
    norm, warns = validate("iqn.2026-11.lab.sanboot:t", today=TODAY)
    assert len(warns) == 1 and "ESX" in warns[0]
    assert validate("iqn.2026-10.lab.sanboot:t", today=TODAY)[1] == []


@pytest.mark.parametrize("date", ["2024-01", "2024-01-31", datetime.date(2024, 1, 5), (2024, 1)])
def test_build(date):
    assert build_iqn(date, "lab.sanboot", "target1") == "iqn.2024-01.lab.sanboot:target1"


def test_build_no_suffix_and_errors():
    assert build_iqn("2024-01", "Lab.Sanboot.") == "iqn.2024-01.lab.sanboot"
    with pytest.raises(IQNError, match="yyyy-mm"):
        build_iqn("2024.01", "lab.sanboot", "x")
    with pytest.raises(IQNError, match="RFC 3722"):
        build_iqn("2024-01", "lab.sanboot", "a/b")
