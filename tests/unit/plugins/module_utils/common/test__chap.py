# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared CHAP/IQN request checks (RFC 3720 section 8.2.1, section 3.2.6.3)."""

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common._chap import checked_name, normalise
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError


def test_empty_is_none():
    assert normalise(None) is None
    assert normalise(dict(username=None, password="")) is None


def test_pairs_and_warnings():
    warnings = []
    out = normalise(dict(username="u", password="x" * 17, mutual_username="t",
                         mutual_password="y" * 12), warnings=warnings)
    assert out == dict(username="u", password="x" * 17, mutual_username="t", mutual_password="y" * 12)
    assert warnings and "longer than 16" in warnings[0]


@pytest.mark.parametrize("chap, words, option", [
    (dict(username="u", password="x" * 11), ["chap.password", "at least 12", "RFC 3720"], "chap.password"),
    (dict(username="u"), ["chap.password", "go together"], "chap.password"),
    (dict(username="u", password="x" * 12, mutual_username="m", mutual_password="x" * 12),
     ["chap.mutual_password", "differ"], "chap.mutual_password"),
    (dict(mutual_username="m", mutual_password="y" * 12), ["needs username", "one-way"], "chap.mutual_username"),
    (dict(username="u", password="a b c d e f g h"), ["printable ASCII"], "chap.password"),
    (dict(username="u", password="line1\nline2-12ch"), ["one line"], "chap.password"),
])
def test_refusals_name_the_option_and_rule(chap, words, option):
    with pytest.raises(RequestError) as e:
        normalise(chap)
    for w in words:
        assert w in str(e.value)
    assert e.value.option == option and isinstance(e.value, ValueError)


def test_refusals_name_the_option_given():
    with pytest.raises(RequestError) as e:
        normalise(dict(username="u", password="short"), what="targets[1].chap")
    assert e.value.option == "targets[1].chap.password"
    assert str(e.value).startswith("targets[1].chap.password: ")


def test_tokens_off_allows_quoted_values():
    assert normalise(dict(username="u", password="it's a secret!"), tokens=False)["password"] == "it's a secret!"


def test_checked_name():
    warnings = []
    assert checked_name("IQN.2001-04.com.Example:Disk", "name", warnings) == "iqn.2001-04.com.example:disk"
    assert warnings
    with pytest.raises(RequestError) as e:
        checked_name("iqn.2008.06.biz.frode:storage.vmware", "target", [])
    assert "target" in str(e.value)
    assert e.value.option == "target"
