# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every live_migration driver shares: host commands, facts helpers (no processes)."""

from __future__ import annotations

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _driver as m


def test_cpu_vendor_and_ip_addr():
    assert m.cpu_vendor("processor\t: 0\nvendor_id\t: AuthenticAMD\n") == "amd"
    assert m.cpu_vendor("processor\t: 0\nvendor_id\t: GenuineIntel\n") == "intel"
    assert m.cpu_vendor("") is None
    text = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
            "2: br0    inet 198.51.100.31/25 brd 198.51.100.127 scope global br0\n"
            "2: br0    inet6 fe80::216:3eff:fe00:1/64 scope link \n")
    assert m.parse_ip_addr(text) == ["127.0.0.1", "198.51.100.31", "fe80::216:3eff:fe00:1"]


def test_host_over_ssh_quotes_the_command():
    calls = []

    def runner(argv, check=True):
        calls.append(argv)
        return 0, "1\n0\n", ""
    h = m.Host(runner, "root@hv2", "ssh -o BatchMode=yes")
    assert h.paths(["/dev/x y", "/dev/z"]) == {"/dev/x y": True, "/dev/z": False}
    assert calls[0][:5] == ["ssh", "-o", "BatchMode=yes", "--", "root@hv2"]
    assert "'/dev/x y'" in calls[0][5]


def test_with_timeout_and_failure_text():
    assert m.with_timeout(["xl", "migrate"], 5) == ["timeout", "--kill-after=10", "5", "xl",
                                                    "migrate"]
    assert m.with_timeout(["xl"], None) == ["xl"]
    assert m.command_failure("xl migrate", 124, "", "", 5) == (
        "xl migrate timed out after 5 s and was aborted")
    assert m.command_failure("xm migrate", 1, "", "a\nb\nError: refused\n") == (
        "xm migrate failed (rc=1): a | b | Error: refused")


class _Half(m.MigrationDriver):
    name = "half"

    def gather(self):
        return {}, {}, {}


def test_a_driver_implements_the_whole_contract():
    with pytest.raises(TypeError):
        _Half()   # no migrate(), no locate()  pylint: disable=abstract-class-instantiated


def test_refusals_name_the_option_the_driver_and_those_that_can():
    class Able(_Half):
        name, OPTIONS = "able", {"tls": "it encrypts"}

    params = {"tls": True, "live": True, "max_downtime_ms": None, "persistent": "keep"}
    assert _Half.refusals(params, [Able, _Half]) == [
        "persistent: the half driver cannot honour persistent='keep' (no driver can)",
        "tls: the half driver cannot honour tls=True (only able)"]
    assert Able.refusals(params) == [
        "persistent: the able driver cannot honour persistent='keep' (no driver can)"]
    assert _Half.refusals({}) == []
