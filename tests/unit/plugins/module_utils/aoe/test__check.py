# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aoe_probe's option checks (_aoe_check)."""

from __future__ import annotations

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _check as ac


def params(**kw):
    p = dict(interface="eth0", shelf=1, slot=0, timeout=1.0, retries=3, read_lba=None, read_count=1,
             write_lba=None, write_data=None, mac=None)
    p.update(kw)
    return p


def no_problem(_name, _what):
    return None


@pytest.mark.parametrize("kw, words", [
    (dict(shelf=65535), "shelf=65535"), (dict(slot=255), "slot=255"), (dict(shelf=-1), "shelf=-1"),
    (dict(mac="ff:ff:ff:ff:ff:ff"), "mac: .* broadcast"), (dict(mac="01:00:5e:00:00:01"), "mac: .* multicast"),
    (dict(mac="00:00:00:00:00:00"), "mac: .* all-zero"), (dict(mac="zz"), "mac: .* not a MAC"),
    (dict(read_count=0), "read_count=0"), (dict(read_count=-5), "read_count=-5"),
    (dict(read_lba=-1), "read_lba=-1"), (dict(write_lba=-1, write_data="00"), "write_lba=-1"),
    (dict(timeout=0), "timeout=0"), (dict(timeout=-1.0), "timeout=-1"), (dict(retries=-1), "retries=-1"),
    (dict(retries=10 ** 9), "retries="), (dict(write_lba=0, write_data="0g"), "write_data"),
    (dict(write_lba=0, write_data=""), "write_data is empty"),
    (dict(write_lba=0, write_data="00" * 512 * 2049), "write_data: 2049 sectors"),
])
def test_refusals(kw, words):
    with pytest.raises(ValueError, match=words):
        ac.check_probe(params(**kw), no_problem)


def test_interface_problem_is_reported():
    with pytest.raises(ValueError, match="interface: lo is a loopback"):
        ac.check_probe(params(interface="lo"))


def test_accepted_and_pick_target():
    data, mac = ac.check_probe(params(write_lba=0, write_data="ab", mac="52-54-00-00-00-0A"), no_problem)
    assert len(data) == 512 and data[:1] == b"\xab" and mac == "52:54:00:00:00:0a"
    targets = [{"src": "52:54:00:00:00:0a"}, {"src": "52:54:00:00:00:0b"}]
    assert ac.pick_target(targets, None, False) is targets[0]
    assert ac.pick_target(targets, "52:54:00:00:00:0b", True) is targets[1]
    assert ac.pick_target(targets, "52:54:00:00:00:0c", False) is None
    with pytest.raises(ValueError, match="mac: 2 targets answer"):
        ac.pick_target(targets, None, True)
