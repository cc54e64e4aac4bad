# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisors the role made: libvirtd, its migration settings, the ssh trust, and a real
live migration of a disk-less 128 MiB domain hv1 -> hv2 -> hv1 (QEMU under TCG)."""

from __future__ import annotations

import re

import pytest

DOMAIN = "molecule-selftest"
ADDRESSES = {"hv1": "198.51.100.71", "hv2": "198.51.100.72"}  # molecule.yml host_vars


def address(name):
    return ADDRESSES[name]


XML = """<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<devices><interface type='bridge'><source bridge='br0'/><model type='virtio'/><rom enabled='no'/>
</interface><memballoon model='none'/></devices></domain>""" % DOMAIN


def test_libvirtd_runs_and_starts_at_boot(hypervisor):
    host = hypervisor[1]
    service = host.service("libvirtd")
    assert service.is_running
    assert service.is_enabled


def test_addresses_match_the_scenario(inventory_addresses):
    assert inventory_addresses == ADDRESSES


def test_migration_settings(hypervisor, role_vars):
    name, host = hypervisor
    qemu = host.file("/etc/libvirt/qemu.conf").content_string
    for key, value in (("migration_address", '"%s"' % address(name)),
                       ("migration_host", '"%s"' % address(name)),
                       ("migration_port_min", role_vars["libvirt_host_migration_port_min"]),
                       ("migration_port_max", role_vars["libvirt_host_migration_port_max"])):
        assert re.search(r"^%s = %s$" % (key, re.escape(str(value))), qemu, re.M), key
    libvirtd = host.file("/etc/libvirt/libvirtd.conf").content_string
    assert re.search(r'^host_uuid_source = "machine-id"$', libvirtd, re.M)


def test_storage_address_on_the_guest_bridge(hypervisor):
    name, host = hypervisor
    assert address(name) in host.interface("br0").addresses
    assert host.run("test -c /dev/net/tun").rc == 0


def test_host_uuids_differ(hv1, hv2):
    uuids = [re.search(r"<uuid>([^<]+)</uuid>", h.check_output("virsh capabilities")).group(1)
             for h in (hv1, hv2)]
    assert uuids[0] != uuids[1]


def test_ssh_trust_both_ways(hv1, hv2):
    assert hv1.check_output("ssh -o BatchMode=yes root@%s hostname" % address("hv2")) == "hv2"
    assert hv2.check_output("ssh -o BatchMode=yes root@%s hostname" % address("hv1")) == "hv1"


def _state(host):
    return host.run("virsh domstate %s" % DOMAIN).stdout.strip()


def _migrate(source, destination_name):
    dest = address(destination_name)
    source.check_output("virsh migrate --live %s qemu+ssh://root@%s/system --migrateuri tcp://%s"
                        % (DOMAIN, dest, dest))


@pytest.fixture
def selftest_domain(hv1, hv2):
    for host in (hv1, hv2):
        host.run("virsh destroy %s" % DOMAIN)
    hv1.check_output("cat > /tmp/%s.xml <<'EOF'\n%s\nEOF\nvirsh create /tmp/%s.xml" % (DOMAIN, XML, DOMAIN))
    yield DOMAIN
    for host in (hv1, hv2):
        host.run("virsh destroy %s" % DOMAIN)


def test_live_migration_there_and_back(selftest_domain, hv1, hv2):
    assert _state(hv1) == "running"
    _migrate(hv1, "hv2")
    assert (_state(hv2), _state(hv1)) == ("running", "")
    job = hv2.check_output("virsh domjobinfo --completed %s" % DOMAIN)
    assert "Incoming migration" in job and re.search(r"Total downtime:\s+\d+\s+ms", job)
    _migrate(hv2, "hv1")
    assert (_state(hv1), _state(hv2)) == ("running", "")


def test_tls_files_from_the_ca(hypervisor, role_vars):
    """libvirtd's and QEMU's x509 files, made from the scenario's CA (converge.yml)."""
    _name, host = hypervisor
    with open(role_vars["libvirt_host_tls_ca_cert"]) as handle:
        ca = handle.read()
    assert host.file("/etc/pki/CA/cacert.pem").content_string == ca
    assert host.file("/etc/pki/qemu/ca-cert.pem").content_string == ca
    cert = host.file("/etc/pki/libvirt/servercert.pem").content_string
    assert host.file("/etc/pki/qemu/server-cert.pem").content_string == cert
    for path in ("/etc/pki/libvirt/private/serverkey.pem", "/etc/pki/libvirt/private/clientkey.pem"):
        key = host.file(path)
        assert (key.user, key.group, key.mode) == ("root", "root", 0o600), path
    for path in ("/etc/pki/qemu/server-key.pem", "/etc/pki/qemu/client-key.pem"):
        key = host.file(path)
        assert (key.user, key.group, key.mode) == ("root", role_vars.get(
            "libvirt_host_qemu_group", "libvirt-qemu"), 0o640), path
