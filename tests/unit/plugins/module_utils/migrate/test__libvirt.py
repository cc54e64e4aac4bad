# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt facts: domain and capabilities XML, job statistics (no libvirt needed)."""

from __future__ import annotations

import threading

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _libvirt as lv
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import prechecks


fixture = fixture_reader("migrate")


def test_domain_xml():
    dom = lv.parse_domain_xml(fixture("libvirt_domain.xml"))
    assert dom["memory_bytes"] == 512 << 20 and dom["arch"] == "x86_64"
    net, block, cdrom = dom["disks"]
    assert net == {"kind": "network", "protocol": "iscsi", "device": "vda",
                   "path": "iqn.2024-01.lab.sanboot:guest1/1", "portal": "198.51.100.10",
                   "port": 3260, "target": "iqn.2024-01.lab.sanboot:guest1", "lun": 1}
    assert (block["kind"], block["protocol"], block["lun"]) == ("block", "iscsi", 2)
    assert cdrom == {"kind": "none", "device": "hdc"}
    assert prechecks(dict(dom, name="guest1", found=True), {"name": "hv1"},
                     {"name": "hv2", "reachable": True}, "198.51.100.0/25") == [
        "storage_network: the addresses of hv1 are unknown",
        "storage_network: the addresses of hv2 are unknown"]


def test_file_disk_refused():
    xml = fixture("libvirt_domain.xml").replace(
        "<disk type='block' device='disk'>\n      <source dev='/dev/disk/by-path/ip-198.51.100.10"
        ":3260-iscsi-iqn.2024-01.lab.sanboot:data-lun-2'/>",
        "<disk type='file' device='disk'>\n      <source file='/var/lib/libvirt/images/d.qcow2'/>")
    dom = lv.parse_domain_xml(xml)
    errs = prechecks(dict(dom, name="guest1", found=True), {"name": "hv1"},
                     {"name": "hv2", "reachable": True})
    assert errs == ["disk vdb is a local file /var/lib/libvirt/images/d.qcow2: it is not shared "
                    "storage the destination can reach (put it on an iSCSI LUN both hosts use)"]


def test_capabilities():
    assert lv.parse_capabilities(fixture("libvirt_capabilities.xml")) == {
        "arch": "x86_64", "vendor": "intel", "uuid": "4c4c4544-0042-3510-8052-b4c04f4d3232"}


def test_job_result_and_units():
    stats = {"type": 3, "operation": 3, "time_elapsed": 752, "downtime": 38,
             "downtime_net": 37, "setup_time": 4, "data_processed": 31457280,
             "memory_processed": 31000000}
    assert lv.job_result(stats) == {"total_time_ms": 752, "downtime_ms": 38,
                                    "transferred_bytes": 31457280, "setup_time": 4,
                                    "downtime_net": 37}
    assert lv.job_result({"memory_processed": 10, "disk_processed": 5}) == {
        "transferred_bytes": 15}
    assert lv.bandwidth_mib(1000) == 120 and lv.bandwidth_mib(1) == 1


def test_uri_host():
    assert lv.uri_host("qemu:///system") == (None, None, None)
    assert lv.uri_host("qemu+ssh://root@198.51.100.32/system") == ("ssh", "root",
                                                                   "198.51.100.32")
    assert lv.uri_host("qemu+tcp://127.0.0.1:16510/system") == ("tcp", None, "127.0.0.1")


SS = """LISTEN 0      128          0.0.0.0:22         0.0.0.0:*
LISTEN 0      1      198.51.100.42:49152      0.0.0.0:*
LISTEN 0      128             [::]:22            [::]:*
"""


def test_listening_ports_and_qemu_range():
    assert lv.listening_ports(SS) == {22, 49152}
    assert lv.qemu_port_range("") == (49152, 49215)
    conf = "# migration_port_min = 1\nmigration_port_min = 49200\nmigration_port_max = 49201 # x\n"
    assert lv.qemu_port_range(conf) == (49200, 49201)


def test_port_problem():
    assert lv.port_problem({22, 49152}, (49152, 49215)) is None
    assert "49152 is already taken" in lv.port_problem({49152}, (49152, 49215), 49152)
    assert lv.port_problem({49152}, (49152, 49215), 49153) is None
    msg = lv.port_problem({49200, 49201}, (49200, 49201))
    assert "every migration port 49200-49201" in msg


class _FakeLibvirt(object):
    VIR_MIGRATE_LIVE, VIR_MIGRATE_PEER2PEER = 1, 2
    VIR_MIGRATE_PERSIST_DEST, VIR_MIGRATE_UNDEFINE_SOURCE = 8, 16
    VIR_MIGRATE_TLS = 65536

    @staticmethod
    def registerErrorHandler(_handler, _ctx):
        return None

    @staticmethod
    def virEventRegisterDefaultImpl():
        return 0

    @staticmethod
    def virEventRunDefaultImpl():
        threading.Event().wait()


class _Dom(object):
    def isPersistent(self):
        return True


def test_flags_move_or_keep_the_definition():
    base = dict(source_uri=None, destination_uri=None, destination="hv2", live=True,
                peer2peer=True)
    move = lv.LibvirtDriver(None, dict(base, persistent="move"), _FakeLibvirt)
    keep = lv.LibvirtDriver(None, dict(base, persistent="keep"), _FakeLibvirt)
    assert move.flags(_Dom()) == 1 | 2 | 8 | 16
    assert keep.flags(_Dom()) == 1 | 2
    tls = lv.LibvirtDriver(None, dict(base, persistent="keep", tls=True), _FakeLibvirt)
    assert tls.flags(_Dom()) == 1 | 2 | 65536


def test_announce_needs_a_destination_host():
    base = dict(source_uri=None, destination="hv2", migrate_uri=None, announce="at_switchover")
    far = lv.LibvirtDriver(None, dict(base, destination_uri="qemu+ssh://root@hv2/system"),
                           _FakeLibvirt)
    local = lv.LibvirtDriver(None, dict(base, destination_uri="test:///default"), _FakeLibvirt)
    assert far.option_errors() == []
    assert local.option_errors() == [
        "announce=at_switchover reaches the destination host over ssh: destination_uri "
        "'test:///default' names no host"]
