# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interface options (_netif): names, existence, loopback."""

from __future__ import annotations

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common import _netif


@pytest.mark.parametrize("name", ["", "a b", "eth0\n", "a/b", "a:1", "x" * 16, ".", "..", "-d",
                                  "e\x1bx", None])
def test_bad_names(name):
    assert "is not a network interface name" in _netif.name_problem(name)


def test_loopback_and_missing():
    assert _netif.flags("lo") & _netif.IFF_LOOPBACK
    assert "interface: lo is a loopback interface" in _netif.problem("lo")
    assert "aoe_if: sbi-none0 does not exist" in _netif.problem("sbi-none0", "aoe_if")
    assert _netif.problem("sbi-none0", must_exist=False) is None
    assert _netif.flags("sbi-none0") is None
