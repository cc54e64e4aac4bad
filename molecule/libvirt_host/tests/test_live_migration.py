# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sanboot.lab.live_migration (libvirt driver) for real between the scenario's hypervisors.

The module runs on the source hypervisor (its python3-libvirt), started by the venv's
``ansible`` ad hoc with the installed collection (``make collection``), exactly as a playbook
task delegated to the source would.  A disk-less 128 MiB domain moves hv1 -> hv2 -> hv1 with
the hypervisor's job statistics; every refused precheck and an aborted migration (1 Mbit/s,
1 s timeout) must leave it running on hv1 and absent from hv2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(SCENARIO))
with open(os.path.join(SCENARIO, "molecule.yml")) as _handle:
    INVENTORY = yaml.safe_load(_handle)["provisioner"]["inventory"]
DOMAIN = "molecule-migrate"
XML = """<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<devices>%s<interface type='bridge'><source bridge='br0'/><model type='virtio'/>
<rom enabled='no'/></interface><memballoon model='none'/></devices></domain>"""
FILE_DISK = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
             "<source file='/tmp/molecule-migrate.img'/><target dev='vda' bus='virtio'/></disk>")
# The abort test's domain: QEMU 10 sends the zero pages of an idle 128 MiB domain in well under
# a second even at 1 MiB/s, faster than the 1 s timeout can abort; 2 GiB of them take seconds.
XML_SLOW = XML.replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>2048</memory>")
BUSY_PORT = 49210  # inside the scenario's migration port range (molecule.yml)


def address(name):
    return INVENTORY["host_vars"][name]["ansible_host"]


def live_migration(source, destination, **args):
    """Run the module on ``source`` (inventory name) toward ``destination``; its result."""
    dest = address(destination) if destination in ("hv1", "hv2") else destination
    options = dict(domain=DOMAIN, source=source, destination=destination,
                   destination_uri="qemu+ssh://root@%s/system" % dest,
                   migrate_uri="tcp://%s" % dest)
    options.update(args)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "all",
         "-i", address(source) + ",", "-u", "root",
         "--private-key", INVENTORY["group_vars"]["all"]["ansible_ssh_private_key_file"],
         "-e", "ansible_python_interpreter=/usr/bin/python3",
         "-m", "sanboot.lab.live_migration", "-a", json.dumps(options)],
        cwd=REPO, env=env, capture_output=True, text=True, check=False)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][address(source)]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible: %s\n%s" % (proc.stdout, proc.stderr))


def state(host, name=DOMAIN):
    return host.run("virsh domstate %s" % name).stdout.strip()


def _running(hv1, hv2, xml):
    """Create the disk-less domain from ``xml`` on hv1; destroy it on both hosts afterwards."""
    for host in (hv1, hv2):
        host.run("virsh destroy %s" % DOMAIN)
    hv1.check_output("virsh create /dev/stdin <<'EOF'\n%s\nEOF" % (xml % (DOMAIN, "")))
    yield DOMAIN
    for host in (hv1, hv2):
        host.run("virsh destroy %s" % DOMAIN)


@pytest.fixture
def domain(hv1, hv2):
    """The disk-less domain running on hv1 (destroyed on both hosts afterwards)."""
    yield from _running(hv1, hv2, XML)


@pytest.fixture
def slow_domain(hv1, hv2):
    """The domain with 2 GiB of (zero) memory, running on hv1: slow to move at 1 MiB/s."""
    yield from _running(hv1, hv2, XML_SLOW)


@pytest.fixture
def busy_port(hv2):
    """A process listening on BUSY_PORT on hv2 (started and stopped by its PID)."""
    pid = hv2.check_output(
        "setsid python3 -c 'import socket, time; s = socket.socket(); "
        "s.bind((\"%s\", %d)); s.listen(); time.sleep(120)' >/dev/null 2>&1 & echo $!"
        % (address("hv2"), BUSY_PORT))
    hv2.run("for i in 1 2 3 4 5 6 7 8 9 10; do ss -Hltn | grep -q ':%d ' && break; sleep 0.2; done"
            % BUSY_PORT)
    yield BUSY_PORT
    hv2.run("kill %s" % pid)


def test_round_trip_with_job_statistics(domain, hv1, hv2):
    there = live_migration("hv1", "hv2", max_downtime_ms=50)
    assert there["changed"] and there["location"] == "destination", there
    assert (state(hv2), state(hv1)) == ("running", "")
    again = live_migration("hv1", "hv2")
    assert not again.get("failed") and not again["changed"], again
    back = live_migration("hv2", "hv1", max_downtime_ms=50)
    assert back["changed"] and back["location"] == "destination", back
    assert (state(hv1), state(hv2)) == ("running", "")
    for result in (there, back):
        assert result["total_time_from"] == "hypervisor"
        assert result["total_time_ms"] > 0 and result["transferred_bytes"] > 0
        assert result["downtime_ms"] >= 0


def test_round_trip_over_tls(domain, hv1, hv2):
    """The migration stream over TLS (QEMU x509 files from the scenario's CA, both ways)."""
    for source, destination, host in (("hv1", "hv2", hv2), ("hv2", "hv1", hv1)):
        result = live_migration(source, destination, tls=True)
        assert result["changed"] and result["location"] == "destination", result
        assert state(host) == "running"
    assert (state(hv1), state(hv2)) == ("running", "")


def test_tls_checks_the_destination_name(domain, hv1, hv2):
    """QEMU checks the destination's certificate against migrate_uri's host: hv2 reached by a
    name its certificate does not carry (an /etc/hosts alias on hv1) fails the TLS handshake,
    and the guest stays on the source; the same name without TLS works (so the refusal is the
    certificate check)."""
    alias = "hv2-not-in-the-certificate"
    hv1.check_output("echo '%s %s' >> /etc/hosts" % (address("hv2"), alias))
    try:
        result = live_migration("hv1", "hv2", tls=True, migrate_uri="tcp://%s" % alias)
        assert result.get("failed") and result["location"] == "source", result
        assert (state(hv1), state(hv2)) == ("running", "")
        plain = live_migration("hv1", "hv2", migrate_uri="tcp://%s" % alias)
        assert plain["changed"] and plain["location"] == "destination", plain
        assert (state(hv1), state(hv2)) == ("", "running")
    finally:
        hv1.check_output("sed -i '/ %s$/d' /etc/hosts" % alias)


def test_round_trip_announced_at_switchover(domain, hv1, hv2):
    """The destination host announces the guest when the source pauses (its bridge NIC)."""
    mac = hv1.check_output("virsh domiflist %s | awk '/br0/ {print $5}'" % DOMAIN)
    for source, destination, host in (("hv1", "hv2", hv2), ("hv2", "hv1", hv1)):
        result = live_migration(source, destination, announce="at_switchover")
        assert result["changed"] and result["location"] == "destination", result
        announce = result["stats"]["announce"]
        # the helper found the incoming tap by its address (libvirt 9 and 11 alike)
        assert announce["announced"] and announce["armed"] == "1 of 1 NICs", announce
        assert list(announce["taps"]) == [mac] and " in br0" in announce["taps"][mac], announce
        assert announce["go_via"] == "udp", announce  # the datagram beat the ssh line
        assert 0 <= announce["announced_after_pause_ms"] < 1000, announce
        # the pin on the destination's bridge is gone (the bridge learns the guest again)
        fdb = host.check_output("bridge fdb show br br0 | grep -i '^%s ' || true" % mac)
        assert "sticky" not in fdb, fdb
    assert (state(hv1), state(hv2)) == ("running", "")


@pytest.mark.parametrize("case, args, message", [
    ("unknown domain", dict(domain="no-such-domain"), "does not run on the source"),
    ("destination is the source", dict(destination="hv1"), "is the source itself"),
    ("destination by the source's address", dict(destination="198.51.100.71"),
     "is the source itself"),
    ("destination down", dict(destination="198.51.100.99"), "is not reachable"),
])
def test_refused_prechecks_leave_the_guest(domain, hv1, hv2, case, args, message):
    args = dict(args)
    result = live_migration("hv1", args.pop("destination", "hv2"), **args)
    assert result.get("failed") and message in result["msg"], (case, result)
    assert "guest not touched" in result["msg"] or "source itself" in result["msg"]
    assert (state(hv1), state(hv2)) == ("running", "")


def test_taken_migration_port_refused(domain, busy_port, hv1, hv2):
    result = live_migration("hv1", "hv2", migrate_uri="tcp://%s:%d" % (address("hv2"), busy_port))
    assert result.get("failed") and "port %d is already taken" % busy_port in result["msg"], result
    assert (state(hv1), state(hv2)) == ("running", "")


def test_local_file_disk_refused(hv1, hv2):
    name = DOMAIN + "-file"
    hv1.check_output("truncate -s 1M /tmp/molecule-migrate.img && virsh create /dev/stdin <<'EOF'"
                     "\n%s\nEOF" % (XML % (name, FILE_DISK)))
    try:
        result = live_migration("hv1", "hv2", domain=name)
        assert result.get("failed") and "local file /tmp/molecule-migrate.img" in result["msg"]
        assert (state(hv1, name), state(hv2, name)) == ("running", "")
    finally:
        hv1.run("virsh destroy %s; rm -f /tmp/molecule-migrate.img" % name)


@pytest.mark.parametrize("announce", ["on_resume", "at_switchover"])
def test_aborted_migration_leaves_the_guest_on_the_source(slow_domain, hv1, hv2, announce):
    result = live_migration("hv1", "hv2", bandwidth_mbps=1, timeout=1, announce=announce)
    assert result.get("failed") and result["location"] == "source", result
    assert "timed out after 1 s" in result["msg"]
    assert not result["changed"]
    assert (state(hv1), state(hv2)) == ("running", "")
    # no MAC stays pinned on either bridge (at_switchover armed hv2's before the abort)
    for host in (hv1, hv2):
        assert "sticky" not in host.check_output("bridge fdb show br br0")


@pytest.fixture
def persistent_domain(hv1, hv2):
    """The domain defined (persistent) and started on hv1; undefined everywhere afterwards."""
    for host in (hv1, hv2):
        host.run("virsh destroy %s; virsh undefine %s" % (DOMAIN, DOMAIN))
    hv1.check_output("virsh define /dev/stdin <<'EOF'\n%s\nEOF\nvirsh start %s"
                     % (XML % (DOMAIN, ""), DOMAIN))
    yield DOMAIN
    for host in (hv1, hv2):
        host.run("virsh destroy %s; virsh undefine %s" % (DOMAIN, DOMAIN))


def _persistent(host):
    return host.run("virsh dominfo %s" % DOMAIN).stdout


def test_keep_leaves_the_definition_at_home(persistent_domain, hv1, hv2):
    uuid = hv1.check_output("virsh domuuid %s" % DOMAIN)
    there = live_migration("hv1", "hv2", persistent="keep")
    assert there["changed"] and (state(hv2), state(hv1)) == ("running", "shut off"), there
    assert "Persistent:     no" in _persistent(hv2)
    back = live_migration("hv2", "hv1", persistent="keep")
    assert back["changed"] and (state(hv1), state(hv2)) == ("running", ""), back
    assert hv1.check_output("virsh domuuid %s" % DOMAIN) == uuid
    assert "Persistent:     yes" in _persistent(hv1)


def test_move_takes_the_definition_along(persistent_domain, hv1, hv2):
    there = live_migration("hv1", "hv2")
    assert there["changed"] and (state(hv2), state(hv1)) == ("running", ""), there
    assert "Persistent:     yes" in _persistent(hv2)
    back = live_migration("hv2", "hv1")
    assert back["changed"] and (state(hv1), state(hv2)) == ("running", ""), back
