# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration's main(): an option the driver cannot honour is refused before any command
runs and before libvirt is needed; the documentation of each option agrees with the drivers'
table (``_driver.MigrationDriver``, ``OPTIONS`` of each driver)."""

import pytest
import yaml

from _helper import run_main  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import live_migration
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import MigrationDriver
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import DRIVERS

OPTIONS = yaml.safe_load(live_migration.DOCUMENTATION)["options"]


def run(monkeypatch, args, libvirt=None):
    """Run the module (every command answers rc 1); return (result, argv of every command)."""
    calls = []

    def run_command(self, argv, **kw):
        calls.append(argv)
        return 1, "", "no such host"

    monkeypatch.setattr(live_migration, "libvirt", libvirt)
    args = dict(dict(domain="g1", source="hv1", destination="hv2"), **args)
    return run_main(monkeypatch, live_migration, args, run_command), calls


@pytest.mark.parametrize("args,errors", [
    ({"driver": "xm", "tls": True}, ["tls: the xm driver cannot honour tls=True (only libvirt)"]),
    ({"driver": "xl", "tls": True}, ["tls: the xl driver cannot honour tls=True (only libvirt)"]),
    ({"driver": "xl", "live": False, "bandwidth_mbps": 100},
     ["bandwidth_mbps: the xl driver cannot honour bandwidth_mbps=100 (only libvirt, xm)",
      "live: the xl driver cannot honour live=False (only libvirt, xm)"]),
    ({"driver": "xm", "announce": "at_switchover", "max_downtime_ms": 30},
     ["announce: the xm driver cannot honour announce='at_switchover' (only libvirt)",
      "max_downtime_ms: the xm driver cannot honour max_downtime_ms=30 (only libvirt)"]),
    ({"driver": "xm", "persistent": "keep", "migrate_uri": "tcp://198.51.100.32"},
     ["migrate_uri: the xm driver cannot honour migrate_uri='tcp://198.51.100.32' (only libvirt)",
      "persistent: the xm driver cannot honour persistent='keep' (only libvirt)"]),
    ({"driver": "xl", "peer2peer": False, "allow_unsafe_tcg": True},
     ["allow_unsafe_tcg: the xl driver cannot honour allow_unsafe_tcg=True (only libvirt)",
      "peer2peer: the xl driver cannot honour peer2peer=False (only libvirt)"]),
])
def test_refused_before_anything_runs(monkeypatch, args, errors):
    result, calls = run(monkeypatch, args)
    assert result["failed"] and result["changed"] is False and calls == []
    assert result["errors"] == errors and result["msg"] == "; ".join(errors)


def test_libvirt_missing_is_reported_after_the_option_check(monkeypatch):
    result, calls = run(monkeypatch, {"tls": True, "max_downtime_ms": 50})
    assert result["failed"] and calls == []
    assert "libvirt-python (Debian: python3-libvirt)" in result["msg"]
    result, calls = run(monkeypatch, {"timeout": 0})
    assert result["msg"] == "timeout: must be a positive number, got 0"


def test_xl_with_neutral_options_reaches_its_hosts(monkeypatch):
    result, calls = run(monkeypatch, {"driver": "xl", "live": True, "tls": False,
                                      "persistent": "move", "announce": "on_resume"})
    assert calls[0] == ["xl", "info"]
    assert result["failed"] and result["msg"] == (
        "precheck failed, guest not touched: source hv1 cannot be queried: 'xl info' failed "
        "(rc=1): no such host")


def test_every_option_is_in_the_table_once():
    common, neutral = set(MigrationDriver.COMMON), set(MigrationDriver.NEUTRAL)
    assert not common & neutral
    assert sorted(OPTIONS) == sorted(common | neutral)
    for cls in DRIVERS.values():
        assert set(cls.OPTIONS) <= neutral, cls.name


@pytest.mark.parametrize("option", sorted(MigrationDriver.NEUTRAL))
def test_the_documentation_follows_the_table(option):
    """Its description starts with the drivers that honour it; its default asks nothing."""
    doc = OPTIONS[option]
    first = doc["description"] if isinstance(doc["description"], str) else doc["description"][0]
    able = ", ".join(name for name, cls in DRIVERS.items() if option in cls.OPTIONS)
    assert first.startswith(able + " - "), first
    assert doc.get("default") == MigrationDriver.NEUTRAL[option]


@pytest.mark.parametrize("option", MigrationDriver.COMMON)
def test_options_of_every_driver_name_no_driver(option):
    doc = OPTIONS[option]
    first = doc["description"] if isinstance(doc["description"], str) else doc["description"][0]
    assert not any(first.startswith(name + " -") or first.startswith(name + ",") for name in DRIVERS)
