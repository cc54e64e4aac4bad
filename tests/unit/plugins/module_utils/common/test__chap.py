# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared CHAP/IQN request checks (RFC 3720 section 8.2.1, section 3.2.6.3)."""

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common._chap import checked_name, normalise


class Bad(ValueError):
    pass


def test_empty_is_none():
    assert normalise(None) is None
    assert normalise(dict(username=None, password="")) is None


def test_pairs_and_warnings():
    warnings = []
    out = normalise(dict(username="u", password="x" * 17, mutual_username="t",
                         mutual_password="y" * 12), warnings=warnings)
    assert out == dict(username="u", password="x" * 17, mutual_username="t", mutual_password="y" * 12)
    assert warnings and "longer than 16" in warnings[0]


@pytest.mark.parametrize("chap, words", [
    (dict(username="u", password="x" * 11), ["chap.password", "at least 12", "RFC 3720"]),
    (dict(username="u"), ["chap.password", "go together"]),
    (dict(username="u", password="x" * 12, mutual_username="m", mutual_password="x" * 12),
     ["chap.mutual_password", "differ"]),
    (dict(mutual_username="m", mutual_password="y" * 12), ["needs username", "one-way"]),
    (dict(username="u", password="a b c d e f g h"), ["printable ASCII"]),
    (dict(username="u", password="line1\nline2-12ch"), ["one line"]),
])
def test_refusals_name_the_option_and_rule(chap, words):
    with pytest.raises(Bad) as e:
        normalise(chap, error=Bad)
    for w in words:
        assert w in str(e.value)


def test_tokens_off_allows_quoted_values():
    assert normalise(dict(username="u", password="it's a secret!"), tokens=False)["password"] == "it's a secret!"


def test_checked_name():
    warnings = []
    assert checked_name("IQN.2001-04.com.Example:Disk", "name", warnings) == "iqn.2001-04.com.example:disk"
    assert warnings
    with pytest.raises(Bad) as e:
        checked_name("iqn.2008.06.biz.frode:storage.vmware", "target", [], Bad)
    assert "target" in str(e.value)
