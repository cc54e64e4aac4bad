# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration with libvirt (private), through libvirt-python (Debian: python3-libvirt).

Runs on the source hypervisor (``source_uri`` default ``qemu:///system``) or anywhere that
can open both URIs.  Facts: the domain XML, each host's capabilities XML and
``getFreeMemory()`` (parsed in ``_libvirt_facts``).

The move is ``virDomainMigrateToURI3`` with ``VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER``
(``peer2peer: true``, the default): the source libvirtd opens its own connection to
``destination_uri`` and drives all five phases itself, so a client that dies or times out
cannot leave the guest paused half way, and ``abortJob()`` is handled by the daemons.  With
``peer2peer: false`` the module drives ``virDomainMigrate3`` over its two connections.
With ``persistent: move`` (default) persistent domains also get ``PERSIST_DEST |
UNDEFINE_SOURCE`` (one definition, on the host that runs the guest); ``persistent: keep``
leaves every definition where it is: the guest runs transient on a host without one, and
joins the inactive definition (same name and UUID) when it comes back.  How each other
option is honoured is :attr:`LibvirtDriver.OPTIONS`; ``max_downtime_ms`` is set before the
start and again once the job runs (older QEMU drivers).  A ``timeout`` calls ``abortJob()``;
the guest then keeps running on the source.  Statistics come from the destination's
completed job (``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)``: ``time_elapsed``,
``downtime``, ``data_processed``), as ``virsh domjobinfo --completed``.
``announce: at_switchover`` adds a :class:`SwitchoverAnnouncer` around the move (module
``_announce``): libvirt's event loop runs in a thread, the source's lifecycle event
SUSPENDED/MIGRATED says ``go``; its report is ``stats["announce"]``.
"""

from __future__ import annotations

import shlex
import threading
import time
from urllib.parse import urlsplit

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import (
    Host, MigrationDriver, MigrationError, version_tuple,
)
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._announce import (
    SwitchoverAnnouncer, bridge_nics, raise_priority, reannounce,
)
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._libvirt_facts import (
    available_memory_bytes, bandwidth_mib, job_result, listening_ports, parse_capabilities, parse_domain_xml,
    port_problem, qemu_port_range, uri_host,
)


def _run_events(libvirt, sched):
    sched.append(raise_priority())  # its wake-up on the pause starts the announcement
    while True:
        libvirt.virEventRunDefaultImpl()


class LibvirtDriver(MigrationDriver):
    name = "libvirt"
    OPTIONS = {
        "allow_unsafe_tcg": "lifts the refusal of a live TCG migration on QEMU < 10.0",
        "announce": "at_switchover: SwitchoverAnnouncer on the destination host (_announce)",
        "bandwidth_mbps": "VIR_MIGRATE_PARAM_BANDWIDTH, in MiB/s rounded up",
        "destination_uri": "the destination connection (and the peer-to-peer one)",
        "live": "VIR_MIGRATE_LIVE",
        "max_downtime_ms": "migrateSetMaxDowntime",
        "migrate_uri": "VIR_MIGRATE_PARAM_URI",
        "parallel_connections": "VIR_MIGRATE_PARALLEL + VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS",
        "peer2peer": "VIR_MIGRATE_PEER2PEER: migrateToURI3, else migrate3",
        "persistent": "move: VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE",
        "source_uri": "the source connection",
        "tls": "VIR_MIGRATE_TLS",
    }

    def __init__(self, runner, params, libvirt):
        self.p, self.runner, self.lv = params, runner, libvirt
        self.src_uri = params["source_uri"] or "qemu:///system"
        self.dst_uri = params["destination_uri"] or (
            "qemu+ssh://root@%s/system" % params["destination"])
        self.sconn = self.dconn = None
        self.events_sched = []
        if params.get("announce") == "at_switchover":
            # events need libvirt's event loop, registered before any connection is opened
            libvirt.virEventRegisterDefaultImpl()
            loop = threading.Thread(target=_run_events, args=(libvirt, self.events_sched))
            loop.daemon = True
            loop.start()
        # errors reach the module as exceptions; keep libvirt from also printing them
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

    def option_errors(self):
        errors = []
        for name in ("source_uri", "destination_uri"):
            value = self.p.get(name)
            if value and "://" not in value:
                errors.append("%s: %r is not a libvirt URI (driver[+transport]://[host]/path)"
                              % (name, value))
        if self.p.get("announce") == "at_switchover" and not uri_host(self.dst_uri)[2]:
            errors.append("announce=at_switchover reaches the destination host over ssh: "
                          "destination_uri %r names no host" % self.dst_uri)
        if self.p.get("migrate_uri") and "://" not in self.p["migrate_uri"]:
            errors.append("migrate_uri: %r is not a URI such as tcp://198.51.100.31"
                          % self.p["migrate_uri"])
        return errors

    def _host(self, uri, name):
        transport, user, host = uri_host(uri)
        if not host:
            return Host(self.runner, name)
        if transport == "ssh":
            return Host(self.runner, ("%s@%s" % (user, host)) if user else host,
                        self.p["ssh_command"])
        return None

    def _open(self, uri, name):
        try:
            return self.lv.open(uri), {"name": name, "reachable": True}
        except self.lv.libvirtError as exc:
            return None, {"name": name, "reachable": False, "error": "%s: %s" % (uri, exc)}

    def _lookup(self, conn):
        if conn is None:
            return None
        try:
            dom = conn.lookupByName(self.p["domain"])
        except self.lv.libvirtError:
            return None
        return dom if dom.isActive() else None

    def _free_memory(self, conn):
        """Memory a guest can get on the host (bytes): MemFree plus the page cache and buffers the
        kernel gives back on demand (``getMemoryStats``); ``getFreeMemory()`` (MemFree only) when
        libvirt has no statistics. MemFree alone refused a 512 MiB guest on a host with 14 GiB
        available, its memory full of cached disk images (make lab-xen, 2026-12-02)."""
        try:
            stats = conn.getMemoryStats(-1)  # VIR_NODE_MEMORY_STATS_ALL_CELLS, KiB
        except (AttributeError, self.lv.libvirtError):
            stats = None
        return available_memory_bytes(stats, conn.getFreeMemory())

    def _facts(self, conn, facts, uri, paths=()):
        caps = parse_capabilities(conn.getCapabilities())
        facts.update(arch=caps["arch"], vendor=caps["vendor"], uuid=caps["uuid"],
                     free_memory_bytes=self._free_memory(conn), accepts=None,
                     hypervisor_version=version_tuple(conn.getVersion()))
        host = self._host(uri, facts["name"])
        facts["paths"] = host.paths(paths) if host is not None else None
        if self.p.get("storage_network"):
            if host is not None:
                facts["addresses"] = host.addresses()
            else:
                facts["addresses"] = [uri_host(uri)[2]]
        return facts

    def gather(self):
        self.sconn, src = self._open(self.src_uri, self.p["source"])
        guest = {"name": self.p["domain"], "found": False, "disks": []}
        if self.sconn is not None:
            dom = self._lookup(self.sconn)
            if dom is not None:
                guest.update(parse_domain_xml(dom.XMLDesc(0)), found=True)
            self._facts(self.sconn, src, self.src_uri)
        dst_addr = uri_host(self.dst_uri)[2]
        if dst_addr and uri_host(self.src_uri)[2] is None:
            if dst_addr in (Host(self.runner, "source").addresses() or []):
                return guest, src, {"name": self.p["destination"], "reachable": False,
                                    "is_source": "%s is an address of the source host"
                                    % dst_addr}
        self.dconn, dst = self._open(self.dst_uri, self.p["destination"])
        if self.dconn is None:
            return guest, src, dst
        paths = [d["path"] for d in guest["disks"] if d.get("kind") == "block"
                 and d.get("protocol") == "iscsi"]
        self._facts(self.dconn, dst, self.dst_uri, paths)
        if self.p.get("migrate_uri") and self.p.get("storage_network"):
            dst["addresses"] = (dst.get("addresses") or []) + [
                urlsplit(self.p["migrate_uri"]).hostname]
        guest["on_destination"] = self._lookup(self.dconn) is not None
        dst["accepts"] = True
        self._port_check(dst)
        if src.get("uuid") and src.get("uuid") == dst.get("uuid"):
            dst.update(accepts=False, accept_error=(
                "it reports the same host UUID %s as the source; libvirt refuses to migrate "
                "(set host_uuid_source = \"machine-id\" in libvirtd.conf)" % dst["uuid"]))
        return guest, src, dst

    def _port_check(self, dst):
        """The destination's migration port (range) must be free; asked over ssh - its ssh URI,
        or the ssh that announce=at_switchover needs anyway (as its helper: URI user, else root)."""
        transport, user, name = uri_host(self.dst_uri)
        if transport == "ssh":
            host = self._host(self.dst_uri, dst["name"])
        elif self.p.get("announce") == "at_switchover" and name:
            host = Host(self.runner, "%s@%s" % (user or "root", name), self.p["ssh_command"])
        else:
            return
        rc, out, _err = host.run(["ss", "-Hltn"])
        if rc != 0:
            return
        _rc, conf, _err = host.run(["cat", "/etc/libvirt/qemu.conf"])
        port = urlsplit(self.p["migrate_uri"]).port if self.p.get("migrate_uri") else None
        problem = port_problem(listening_ports(out), qemu_port_range(conf), port)
        if problem:
            dst.update(accepts=False, accept_error=problem)

    def flags(self, dom):
        lv = self.lv
        flags = lv.VIR_MIGRATE_LIVE if self.p["live"] else 0
        if self.p["peer2peer"]:
            flags |= lv.VIR_MIGRATE_PEER2PEER
        if self.p.get("tls"):
            flags |= lv.VIR_MIGRATE_TLS
        if self.p.get("parallel_connections"):
            flags |= lv.VIR_MIGRATE_PARALLEL
        if self.p.get("persistent", "move") == "move" and dom.isPersistent():
            flags |= lv.VIR_MIGRATE_PERSIST_DEST | lv.VIR_MIGRATE_UNDEFINE_SOURCE
        return flags

    def params(self):
        lv, params = self.lv, {}
        if self.p.get("migrate_uri"):
            params[lv.VIR_MIGRATE_PARAM_URI] = self.p["migrate_uri"]
        if self.p.get("bandwidth_mbps"):
            params[lv.VIR_MIGRATE_PARAM_BANDWIDTH] = bandwidth_mib(self.p["bandwidth_mbps"])
        if self.p.get("parallel_connections"):
            params[lv.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS] = int(self.p["parallel_connections"])
        return params

    def _set_downtime(self, dom):
        try:
            dom.migrateSetMaxDowntime(int(self.p["max_downtime_ms"]), 0)
            return True
        except self.lv.libvirtError:
            return False

    def _announcer(self, dom):
        """A started SwitchoverAnnouncer watching ``dom`` (announce=at_switchover), else None."""
        if self.p.get("announce") != "at_switchover":
            return None
        lv = self.lv
        _transport, user, host = uri_host(self.dst_uri)
        announcer = SwitchoverAnnouncer(shlex.split(self.p["ssh_command"])
                                        + ["--", "%s@%s" % (user or "root", host)])

        def paused(_conn, _dom, event, detail, _opaque):
            if event == lv.VIR_DOMAIN_EVENT_SUSPENDED and detail in (
                    lv.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
                    getattr(lv, "VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY", -1)):
                announcer.go()

        announcer.callback = self.sconn.domainEventRegisterAny(
            dom, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, paused, None)
        # the helper finds the incoming taps by itself (the destination's libvirt answers a
        # lookup of the incoming domain only late in the move)
        announcer.report["priority"] = {"events": (self.events_sched or ["normal"])[0]}
        announcer.start([mac for mac, _tap, _bridge in bridge_nics(dom.XMLDesc(0))], host)
        # before the move starts: a helper still logging in could only announce late
        if not announcer.wait_ready():
            announcer.report.setdefault("errors", []).append(
                "the helper on the destination did not answer within 5 s; the move went on")
        return announcer

    def _announce_end(self, announcer, failed):
        self.sconn.domainEventDeregisterAny(announcer.callback)
        report = announcer.finish()
        dom = self._lookup(self.sconn) if failed and announcer.go_at else None
        if dom is not None:
            macs = [mac for mac, tap, _bridge in bridge_nics(dom.XMLDesc(0)) if tap]
            report["source_reannounced"] = reannounce(self.runner, macs)
        return report

    def migrate(self):
        dom = self.sconn.lookupByName(self.p["domain"])
        announcer, stats = self._announcer(dom), None
        try:
            stats = self._migrate(dom)
        finally:
            if announcer is not None:
                report = self._announce_end(announcer, stats is None)
        if announcer is not None:
            stats["announce"] = report
        return stats

    def _migrate(self, dom):
        flags, params, outcome = self.flags(dom), self.params(), {}
        downtime_set = not self.p.get("max_downtime_ms") or self._set_downtime(dom)

        def work():
            try:
                if self.p["peer2peer"]:
                    dom.migrateToURI3(self.dst_uri, params, flags)
                else:
                    dom.migrate3(self.dconn, params, flags)
            except self.lv.libvirtError as exc:
                outcome["error"] = str(exc)

        thread = threading.Thread(target=work)
        deadline = time.time() + (self.p.get("timeout") or 0)
        thread.start()
        aborted = False
        while thread.is_alive():
            thread.join(0.05)
            if not downtime_set and thread.is_alive():
                downtime_set = self._set_downtime(dom)
            if self.p.get("timeout") and not aborted and time.time() > deadline:
                try:
                    dom.abortJob()
                    aborted = True
                except self.lv.libvirtError:
                    pass
        if aborted:
            raise MigrationError("migration timed out after %s s: job aborted (%s)"
                                 % (self.p["timeout"], outcome.get("error", "no error")))
        if "error" in outcome:
            raise MigrationError(outcome["error"])
        try:
            ddom = self.dconn.lookupByName(self.p["domain"])
            return job_result(ddom.jobStats(self.lv.VIR_DOMAIN_JOB_STATS_COMPLETED))
        except self.lv.libvirtError:
            return {}

    def locate(self):
        """Where the domain runs. A connection that died during the move (libvirt's keepalive
        on a busy daemon) is opened again rather than read as "not there"."""
        out = {}
        for side, uri, conn in (("source", self.src_uri, self.sconn),
                                ("destination", self.dst_uri, self.dconn)):
            try:
                alive = conn is not None and conn.isAlive()
            except self.lv.libvirtError:
                alive = False
            if not alive:
                conn = self._open(uri, side)[0]
            out[side] = self._lookup(conn) is not None
        return out
