# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt facts: domain and capabilities XML, job statistics, ports (no libvirt needed)."""

from __future__ import annotations

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _libvirt_facts as lv
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import prechecks


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
                                    "downtime_net": 37, "memory_processed": 31000000}
    assert lv.job_result({"memory_processed": 10, "disk_processed": 5}) == {
        "transferred_bytes": 15, "memory_processed": 10}
    assert lv.bandwidth_mib(1000) == 120 and lv.bandwidth_mib(1) == 1


def test_job_result_passes_where_the_time_and_bytes_went():
    """virsh domjobinfo --completed of a lab move (libvirt 11.3, QEMU 10.0.2, 512 MiB guest)."""
    stats = {"type": 3, "operation": 3, "time_elapsed": 1743, "time_elapsed_net": 1741,
             "downtime": 21, "downtime_net": 19, "setup_time": 9, "data_total": 537001984,
             "data_processed": 356515840, "data_remaining": 0, "memory_total": 537001984,
             "memory_processed": 356515840, "memory_remaining": 0, "memory_constant": 44000,
             "memory_normal": 86700, "memory_normal_bytes": 355123200, "memory_bps": 240000000,
             "memory_dirty_rate": 120, "memory_iteration": 3, "memory_page_size": 4096,
             "memory_postcopy_requests": 0, "disk_total": 0}
    out = lv.job_result(stats)
    assert out["total_time_ms"] == 1743 and out["transferred_bytes"] == 356515840
    assert set(lv.JOB_STATS) - {"auto_converge_throttle"} == set(out) - {
        "total_time_ms", "downtime_ms", "transferred_bytes"} and "disk_total" not in out and "type" not in out
    assert out["memory_constant"] == 44000 and out["memory_iteration"] == 3


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


def test_parse_domain_xml_reports_the_domain_type():
    assert lv.parse_domain_xml("<domain type='qemu'><memory>1024</memory></domain>")["domain_type"] == "qemu"


def test_available_memory_counts_the_page_cache():
    """MemFree alone refused a guest on a host whose memory was page cache (make lab-xen)."""
    stats = {"total": 24000000, "free": 200000, "buffers": 100000, "cached": 14000000}
    assert lv.available_memory_bytes(stats, 1) == (200000 + 100000 + 14000000) * 1024
    assert lv.available_memory_bytes(None, 12345) == 12345
    assert lv.available_memory_bytes({"free": 1}, 12345) == 12345
