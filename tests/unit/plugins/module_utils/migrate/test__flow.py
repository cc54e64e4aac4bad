# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared flow of live_migration, with a fake module and a fake driver (no processes)."""

from __future__ import annotations

import pytest

from _migrate_fixtures import guest, host  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _flow as m
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import MigrationError


# ---- the shared flow, with a fake module and a fake driver -------------------------------

class Exit(Exception):
    pass


class FakeModule(object):
    def __init__(self, check_mode=False, **params):
        self.params = dict(domain="g1", source="hv1", destination="hv2", driver="libvirt",
                           live=True, max_downtime_ms=None, bandwidth_mbps=None, timeout=30,
                           storage_network=None)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = True

    def exit_json(self, **kw):
        self.result, self.failed = kw, False
        raise Exit()

    def fail_json(self, **kw):
        self.result, self.failed = kw, True
        raise Exit()


class FakeDriver(object):
    """Keeps 'where the guest runs' in a dict; migrate() can fail or succeed."""

    def __init__(self, g=None, dst=None, fail=None):
        self.where = {"source": True, "destination": False}
        self.g, self.dst, self.fail, self.migrated = g or guest(), dst or host("hv2"), fail, 0

    def option_errors(self):
        return []

    def gather(self):
        return self.g, host("hv1"), self.dst

    def fact_errors(self, _guest, _src, _dst):
        return getattr(self, "refuse", [])

    def migrate(self):
        self.migrated += 1
        if self.fail:
            raise MigrationError(self.fail)
        self.where = {"source": False, "destination": True}
        return {"total_time_ms": 750, "downtime_ms": 38, "transferred_bytes": 123456}

    def locate(self):
        return dict(self.where)


def flow(module, driver):
    with pytest.raises(Exit):
        m.run(module, driver)
    return module.result


def test_flow_success_reports_hypervisor_numbers():
    mod, drv = FakeModule(), FakeDriver()
    res = flow(mod, drv)
    assert not mod.failed and res["changed"] and res["location"] == "destination"
    numbers = (res["total_time_ms"], res["downtime_ms"], res["transferred_bytes"])
    assert numbers == (750, 38, 123456)
    assert res["total_time_from"] == "hypervisor"
    assert res["diff"] == {"before": "g1 runs on hv1\n", "after": "g1 runs on hv2\n"}


def test_flow_check_mode_only_checks():
    mod, drv = FakeModule(check_mode=True), FakeDriver()
    res = flow(mod, drv)
    assert not mod.failed and res["changed"] and drv.migrated == 0 and res["location"] == "source"


def test_flow_failed_precheck_never_migrates():
    mod, drv = FakeModule(), FakeDriver(dst=host("hv2", vendor="amd"))
    res = flow(mod, drv)
    assert mod.failed and drv.migrated == 0 and res["location"] == "source"
    assert res["msg"].startswith("precheck failed, guest not touched: CPU vendor differs")


def test_flow_failed_migration_leaves_guest_on_source():
    mod, drv = FakeModule(), FakeDriver(fail="xl migrate timed out after 30 s and was aborted")
    res = flow(mod, drv)
    assert mod.failed and res["location"] == "source" and res["changed"] is False
    assert res["msg"] == ("migration failed; the guest still runs on the source hv1: "
                          "xl migrate timed out after 30 s and was aborted")


def test_flow_idempotent_when_already_moved():
    mod = FakeModule()
    drv = FakeDriver(g=guest(found=False, on_destination=True))
    res = flow(mod, drv)
    assert not mod.failed and res["changed"] is False and res["location"] == "destination"
    assert drv.migrated == 0


def test_flow_same_host_refused_before_gather():
    mod = FakeModule(destination="hv1")
    drv = FakeDriver()
    drv.gather = None   # must not be called
    res = flow(mod, drv)
    assert mod.failed and res["msg"] == "destination: 'hv1' is the source itself"


def test_flow_driver_refusal_is_a_precheck():
    mod, drv = FakeModule(), FakeDriver()
    drv.refuse = ["source hv1: cannot"]
    res = flow(mod, drv)
    assert mod.failed and drv.migrated == 0 and res["errors"] == ["source hv1: cannot"]
    mod, drv = FakeModule(check_mode=True), FakeDriver()
    drv.refuse = ["source hv1: cannot"]
    assert flow(mod, drv)["errors"] == ["source hv1: cannot"] and mod.failed


def test_flow_driver_names_its_time_source():
    mod, drv = FakeModule(), FakeDriver()
    drv.where = {"source": False, "destination": True}
    drv.migrate = lambda: {"total_time_ms": 900, "downtime_ms": 900, "total_time_from": "wall clock"}
    res = flow(mod, drv)
    assert (res["total_time_ms"], res["downtime_ms"], res["total_time_from"]) == (
        900, 900, "wall clock")
    assert "total_time_from" not in res["stats"]
