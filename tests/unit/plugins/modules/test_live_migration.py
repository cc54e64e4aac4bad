# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration's main() against test_live_migration.yaml.

xl and xm: every fact and the move are commands (local, or over the ssh command).  libvirt:
``mocks.libvirt`` is a libvirt-python look-alike (``sys.modules["libvirt"]``) whose connections
answer from the table (capabilities and domain XML from fixtures/migrate/); a successful
``migrateToURI3``/``migrate3`` moves the domain to the destination's connection, and every call
that changes something is recorded and checked against ``calls``.
"""

import sys
import time
import types

import pytest

from _helper import Table, TableMismatch  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import live_migration


class LibvirtError(Exception):
    pass


class Host(object):
    def __init__(self, uri, spec, ctx):
        self.uri, self.spec = uri, spec
        caps = ctx.fixture(spec.get("capabilities", "migrate/libvirt_capabilities.xml"))
        if spec.get("uuid"):
            caps = caps.replace("4c4c4544-0042-3510-8052-b4c04f4d3232", spec["uuid"])
        self.caps = caps
        self.domains = dict((name, dict(d)) for name, d in (spec.get("domains") or {}).items())
        for d in self.domains.values():
            d["xml"] = ctx.fixture(d.get("xml", "migrate/libvirt_domain.xml"))


class Conn(object):
    def __init__(self, lv, host):
        self.lv, self.host = lv, host

    def getCapabilities(self):
        return self.host.caps

    def getFreeMemory(self):
        return self.host.spec.get("free_memory", 8 << 30)

    def getVersion(self):
        return self.host.spec.get("version", 10000002)

    def isAlive(self):
        return True

    def lookupByName(self, name):
        if name not in self.host.domains:
            raise LibvirtError("Domain not found: no domain with matching name '%s'" % name)
        return Dom(self.lv, self.host, name)


class Dom(object):
    def __init__(self, lv, host, name):
        self.lv, self.host, self.name = lv, host, name

    def XMLDesc(self, flags):
        return self.host.domains[self.name]["xml"]

    def isActive(self):
        return self.host.domains[self.name].get("active", True)

    def isPersistent(self):
        return self.host.domains[self.name].get("persistent", True)

    def migrateSetMaxDowntime(self, ms, flags):
        self.lv.calls.append(["migrateSetMaxDowntime", ms, flags])

    def abortJob(self):
        self.lv.calls.append(["abortJob"])

    def jobStats(self, flags):
        return dict(self.lv.spec.get("job_stats") or {})

    def _move(self, uri, call):
        self.lv.calls.append(call)
        error = self.lv.spec.get("migrate_error")
        if error:
            raise LibvirtError(error)
        self.lv.hosts[uri].domains[self.name] = self.host.domains.pop(self.name)

    def migrateToURI3(self, uri, params, flags):
        self._move(uri, ["migrateToURI3", uri, params, flags])

    def migrate3(self, dconn, params, flags):
        self._move(dconn.host.uri, ["migrate3", dconn.host.uri, params, flags])


class Libvirt(types.ModuleType):
    """``mocks.libvirt``: ``{hosts: {URI: {capabilities, uuid, version, free_memory, open_error,
    domains: {NAME: {xml, active, persistent}}}}, migrate_error, job_stats, calls}``; ``null``:
    libvirt-python is not installed."""

    libvirtError = LibvirtError
    VIR_MIGRATE_LIVE, VIR_MIGRATE_PEER2PEER, VIR_MIGRATE_PERSIST_DEST = 1, 2, 8
    VIR_MIGRATE_UNDEFINE_SOURCE, VIR_MIGRATE_TLS = 16, 65536
    VIR_MIGRATE_PARAM_URI, VIR_MIGRATE_PARAM_BANDWIDTH = "migrate_uri", "bandwidth"
    VIR_DOMAIN_JOB_STATS_COMPLETED = 1

    def __init__(self, spec, ctx):
        types.ModuleType.__init__(self, "libvirt")
        self.spec, self.calls = spec, []
        self.hosts = dict((uri, Host(uri, h, ctx)) for uri, h in (spec.get("hosts") or {}).items())

    def registerErrorHandler(self, handler, ctx):
        pass

    def virEventRegisterDefaultImpl(self):
        pass

    def virEventRunDefaultImpl(self):
        time.sleep(0.05)  # the module's event thread (announce=at_switchover) loops here

    def open(self, uri):
        host = self.hosts.get(uri)
        if host is None or host.spec.get("open_error"):
            raise LibvirtError(host.spec["open_error"] if host else "no host %s in the table" % uri)
        return Conn(self, host)

    def verify(self):
        if self.calls != self.spec.get("calls", []):
            raise TableMismatch("libvirt calls:\n  %r\ntable\n  %r" % (self.calls, self.spec.get("calls", [])))


def libvirt(spec, ctx):
    fake = Libvirt(spec, ctx) if spec is not None else None
    ctx.monkeypatch.setitem(sys.modules, "libvirt", fake)
    # the module imports libvirt-python once, at import time (HAS_LIB pattern)
    ctx.monkeypatch.setattr(live_migration, "libvirt", fake)
    ctx.monkeypatch.setattr(live_migration, "LIBVIRT_IMPORT_ERROR", None if fake else "ImportError: No module named 'libvirt'")
    return fake


TABLE = Table(live_migration, __file__, mocks=dict(libvirt=libvirt))


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
