# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of live_migration: options alone (validate) and gathered facts (prechecks)."""

from __future__ import annotations

import pytest

from _migrate_fixtures import guest, host  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _plan as m
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import describe_path

BYPATH = "/dev/disk/by-path/ip-198.51.100.10:3260-iscsi-iqn.2024-01.lab.sanboot:g1-lun-1"


def test_all_good():
    assert m.prechecks(guest(), host("hv1"), host("hv2", addresses=["198.51.100.32"]),
                       "198.51.100.0/25") == []


def test_unknown_domain_first_and_alone():
    errs = m.prechecks(guest(found=False), host("hv1"), host("hv2", reachable=False))
    assert errs == ["domain 'g1' does not run on the source hv1"]


def test_destination_down():
    errs = m.prechecks(guest(), host("hv1"), host("hv2", reachable=False, error="ssh: timeout"))
    assert errs == ["destination hv2 is not reachable: ssh: timeout"]


def test_not_accepting_and_vendor_and_memory():
    errs = m.prechecks(guest(), host("hv1"),
                       host("hv2", accepts=False, accept_error="port taken", vendor="amd",
                            free_memory_bytes=256 << 20))
    assert errs[0] == "destination hv2 does not accept migrations: port taken"
    assert "CPU vendor differs: source hv1 is intel, destination hv2 is amd" in errs[1]
    assert "Intel and AMD" in errs[1]
    assert errs[2] == ("not enough free memory on the destination hv2: the guest needs 512 MiB, "
                       "256 MiB free")


def test_arch_differs():
    errs = m.prechecks(guest(), host("hv1"), host("hv2", arch="aarch64", vendor=None))
    assert errs == ["CPU architecture differs: source hv1 is x86_64, destination hv2 is aarch64"]


def test_local_file_disk_refused():
    disks = [{"kind": "file", "path": "/var/lib/libvirt/images/g1.qcow2", "device": "vda"}]
    errs = m.prechecks(guest(disks=disks), host("hv1"), host("hv2"))
    assert len(errs) == 1 and "local file /var/lib/libvirt/images/g1.qcow2" in errs[0]
    assert "not shared storage" in errs[0]


def test_local_block_refused_bypath_needs_destination_login():
    local = dict(describe_path("/dev/vg0/g1"), device="xvda")
    assert "local block /dev/vg0/g1" in m.prechecks(guest(disks=[local]), host("a"), host("b"))[0]
    iscsi = dict(describe_path(BYPATH), device="xvda")
    assert iscsi["target"] == "iqn.2024-01.lab.sanboot:g1" and iscsi["lun"] == 1
    assert iscsi["portal"] == "198.51.100.10" and iscsi["port"] == 3260
    assert m.prechecks(guest(disks=[iscsi]), host("a"), host("b", paths={BYPATH: True})) == []
    assert m.prechecks(guest(disks=[iscsi]), host("a"), host("b", paths=None)) == []
    errs = m.prechecks(guest(disks=[iscsi]), host("a"), host("b", paths={BYPATH: False}))
    assert errs == ["disk xvda: the destination b has no %s (not logged in to "
                    "iqn.2024-01.lab.sanboot:g1 LUN 1)" % BYPATH]


def test_no_disk_at_all_is_fine():
    """A domU whose initramfs logs in to iSCSI itself has no disk line."""
    assert m.prechecks(guest(disks=[]), host("a"), host("b")) == []


def test_storage_network():
    errs = m.prechecks(guest(), host("hv1", addresses=["10.0.0.5", "fe80::1"]),
                       host("hv2", addresses=None), "198.51.100.0/25")
    assert errs == ["host hv1 has no address on the storage network 198.51.100.0/25 "
                    "(it has 10.0.0.5, fe80::1)",
                    "storage_network: the addresses of hv2 are unknown"]
    far = guest(disks=[{"kind": "network", "protocol": "iscsi", "portal": "198.51.100.200",
                        "target": "iqn.2024-01.lab.sanboot:g1", "lun": 1}])
    errs = m.prechecks(far, host("a"), host("b"), "198.51.100.0/25")
    assert errs == ["iSCSI iqn.2024-01.lab.sanboot:g1 LUN 1 on 198.51.100.200: portal "
                    "198.51.100.200 is not on the storage network 198.51.100.0/25"]


def test_already_on_destination():
    errs = m.prechecks(guest(on_destination=True), host("a"), host("b"))
    assert errs == ["a domain named 'g1' already runs on the destination b"]


@pytest.mark.parametrize("params,expected", [
    ({"source": "hv1", "destination": "hv1"}, ["destination: 'hv1' is the source itself"]),
    ({"source": "a", "destination": "b", "timeout": 0}, ["timeout: must be a positive number, "
                                                         "got 0"]),
    ({"source": "a", "destination": "b", "storage_network": "198.51.100.0/33"},
     ["storage_network: '198.51.100.0/33' does not appear to be an IPv4 or IPv6 network"]),
    ({"source": "a", "destination": "b", "driver": "xm", "announce": "at_switchover"},
     ["announce: the xm driver cannot honour announce='at_switchover' (only libvirt)"]),
])
def test_validate(params, expected):
    assert m.validate(params) == expected


@pytest.mark.parametrize("extra, option", [
    ({"destination": "-oProxyCommand=touch /tmp/x"}, "destination: "),
    ({"source": "-F/tmp/cfg"}, "source: "),
    ({"domain": "-h"}, "domain: "),
    ({"domain": "g1\nx"}, "domain: "),
    ({"destination": "hv2 hv3"}, "destination: "),
    ({"destination": "hv2;reboot"}, "destination: "),
    ({"destination": "hv2\n"}, "destination: "),
    ({"destination": "$(reboot)"}, "destination: "),
    ({"destination_uri": "qemu+ssh://-oProxyCommand=x@hv2/system"}, "destination_uri: the user"),
    ({"destination_uri": "qemu+ssh://root@-hv2/system"}, "destination_uri: the host"),
    ({"source_uri": "qemu:///system\n"}, "source_uri: "),
    ({"migrate_uri": "tcp://198.51.100.31 x"}, "migrate_uri: "),
    ({"ssh_command": ""}, "ssh_command: "),
    ({"ssh_command": "ssh -o 'unterminated"}, "ssh_command: "),
    ({"ssh_command": "ssh\n-v"}, "ssh_command: "),
])
def test_validate_refuses_names_that_reach_a_command_line(extra, option):
    params = dict({"source": "hv1", "destination": "hv2", "domain": "g1"}, **extra)
    errors = m.validate(params)
    assert errors and errors[0].startswith(option), errors


def test_validate_accepts_usual_names():
    for dst in ("hv2", "root@hv2.lab.example", "198.51.100.32", "[2001:db8::2]", "fe80::1%eth0"):
        assert m.validate({"source": "hv1", "destination": dst, "domain": "guest 1",
                           "destination_uri": "qemu+ssh://root@hv2/system",
                           "ssh_command": "ssh -o BatchMode=yes"}) == []


def test_destination_is_the_source_by_address():
    dst = {"name": "198.51.100.41", "reachable": False,
           "is_source": "198.51.100.41 is an address of the source host"}
    errs = m.prechecks(guest(), host("hv1"), dst)
    assert errs == ["destination 198.51.100.41 is the source itself "
                    "(198.51.100.41 is an address of the source host)"]


def test_tcg_live_migration_refused_on_qemu_that_loses_writes():
    from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import TCG_SAFE_QEMU, tcg_errors
    from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import version_tuple
    assert version_tuple(7002022) == (7, 2, 22) and version_tuple(10000002) == (10, 0, 2)
    assert version_tuple(0) is None
    tcg, kvm = {"name": "g", "domain_type": "qemu"}, {"name": "g", "domain_type": "kvm"}
    old, new = {"hypervisor_version": (7, 2, 22)}, {"hypervisor_version": TCG_SAFE_QEMU}
    live = {"live": True, "allow_unsafe_tcg": False}
    errors = tcg_errors(tcg, old, live)
    assert len(errors) == 1 and "QEMU 7.2.22" in errors[0] and "allow_unsafe_tcg" in errors[0]
    assert "live=false" in errors[0] and "bookworm-backports" in errors[0]
    assert tcg_errors(tcg, new, live) == []
    assert tcg_errors(kvm, old, live) == []
    assert tcg_errors(tcg, old, dict(live, live=False)) == []
    assert tcg_errors(tcg, old, dict(live, allow_unsafe_tcg=True)) == []
    assert tcg_errors(tcg, {}, live) == []  # xl/xm: no QEMU version, not concerned


@pytest.mark.parametrize("value,ok", [(1, True), (4, True), (255, True), (0, False), (-2, False),
                                      (256, False)])
def test_parallel_connections_range(value, ok):
    params = dict(domain="g", source="a", destination="b", driver="libvirt", ssh_command="ssh",
                  parallel_connections=value)
    errors = m.validate(params)
    assert errors == ([] if ok else [
        "parallel_connections: must be 1 to 255 (QEMU's multifd-channels), got %r" % value])
    if ok:
        assert m.validate(dict(params, driver="xl")) == [
            "parallel_connections: the xl driver cannot honour parallel_connections=%r "
            "(only libvirt)" % value]


@pytest.mark.parametrize("driver,option,value", [
    ("xm", "tls", True), ("xl", "tls", True), ("xl", "max_downtime_ms", 20), ("xl", "bandwidth_mbps", 100),
    ("xl", "live", False), ("xm", "peer2peer", False), ("xl", "persistent", "keep"),
    ("xm", "migrate_uri", "tcp://198.51.100.42"), ("xl", "allow_unsafe_tcg", True),
])
def test_an_option_the_driver_cannot_honour_is_refused(driver, option, value):
    params = dict(domain="g", source="a", destination="b", driver=driver, ssh_command="ssh")
    params[option] = value
    errors = m.validate(params)
    assert len(errors) == 1 and errors[0].startswith(option + ": the %s driver cannot honour" % driver)
    params[option] = m.DRIVER_OPTIONS[option][1]  # the value that asks nothing is accepted
    assert m.validate(params) == []
    assert m.validate(dict(params, driver="libvirt", **{option: value})) == []


# ---- every option of the module against every driver (the table: _driver.MigrationDriver) ---

# What each driver honours, stated here independently of the drivers' OPTIONS tables.
HONOURED = {
    "libvirt": {"allow_unsafe_tcg", "announce", "bandwidth_mbps", "destination_uri", "live",
                "max_downtime_ms", "migrate_uri", "parallel_connections", "peer2peer", "persistent",
                "source_uri", "tls"},
    "xl": {"mode", "save_dir"},
    "xm": {"bandwidth_mbps", "live"},
}
# A value that asks something of the driver, for each option that not every driver honours.
ASKING = {"allow_unsafe_tcg": True, "announce": "at_switchover", "bandwidth_mbps": 100,
          "destination_uri": "qemu+ssh://root@b/system", "live": False, "max_downtime_ms": 50,
          "migrate_uri": "tcp://198.51.100.42", "peer2peer": False, "persistent": "keep",
          "source_uri": "qemu+ssh://root@a/system", "tls": True, "mode": "cold",
          "save_dir": "/srv/save", "parallel_connections": 4}


def test_the_table_covers_every_driver_and_option():
    assert sorted(m.DRIVERS) == sorted(HONOURED)
    assert sorted(ASKING) == sorted(m.MigrationDriver.NEUTRAL)
    for name, cls in m.DRIVERS.items():
        assert cls.name == name and set(cls.OPTIONS) == HONOURED[name], name


@pytest.mark.parametrize("driver,option", [(d, o) for d in sorted(HONOURED) for o in sorted(ASKING)])
def test_every_option_against_every_driver(driver, option):
    params = dict(domain="g", source="a", destination="b", driver=driver, ssh_command="ssh",
                  **{option: ASKING[option]})
    errors = m.validate(params)
    if option in HONOURED[driver]:
        assert errors == []
        return
    able = ", ".join(d for d in sorted(HONOURED) if option in HONOURED[d])
    assert errors == ["%s: the %s driver cannot honour %s=%r (only %s)"
                      % (option, driver, option, ASKING[option], able)]
    # the value that asks nothing (the module's default) and leaving it out are accepted
    assert m.validate(dict(params, **{option: m.MigrationDriver.NEUTRAL[option]})) == []
    assert m.validate(dict(params, **{option: None})) == []


@pytest.mark.parametrize("driver", ["xm", "xl"])
def test_tls_is_refused_without_libvirt(driver):
    """xm would send the guest's memory over plaintext xend relocation and report success."""
    params = dict(domain="g", source="a", destination="b", driver=driver, tls=True)
    assert m.validate(params) == [
        "tls: the %s driver cannot honour tls=True (only libvirt)" % driver]


def test_every_refusal_is_reported_at_once():
    params = dict(domain="g", source="a", destination="b", driver="xl", tls=True, live=False,
                  max_downtime_ms=20, announce="at_switchover")
    assert [e.split(":")[0] for e in m.validate(params)] == [
        "announce", "live", "max_downtime_ms", "tls"]


def test_driver_options_view_follows_the_table():
    assert m.DRIVER_OPTIONS["tls"] == (("libvirt",), False)
    assert m.DRIVER_OPTIONS["bandwidth_mbps"] == (("libvirt", "xm"), None)
    assert m.DRIVER_OPTIONS["announce"] == (("libvirt",), "on_resume")
