# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe1 after converge, and a real DHCP client (busybox udhcpc) and TFTP client (curl) on the
scenario's bridge: reservations, boot file by client, every boot file byte for byte."""

from __future__ import annotations

import hashlib
import re

LOADERS = ("undionly.kpxe", "pxelinux.0", "ldlinux.c32")


def host(scenario, hostname):
    return [h for h in scenario["hosts"] if h["hostname"] == hostname][0]


def test_dnsmasq_running_and_enabled(pxe):
    service = pxe.service("dnsmasq")
    assert service.is_running and service.is_enabled


def test_ipxe_script_is_private_and_holds_the_chap_settings(pxe, scenario):
    entry = scenario["entries"][host(scenario, "pxeclient1")["boot"]]
    script = pxe.file("%s/ipxe/pxeclient1.ipxe" % scenario["tftp_root"])
    assert script.is_file and script.mode == 0o600 and script.user == "dnsmasq"
    text = script.content_string
    assert "set username %s" % entry["chap"]["username"] in text
    assert "set password %s" % entry["chap"]["password"] in text
    assert "sanboot iscsi:%s:6:3260:1:%s" % (entry["portal"], entry["target"]) in text
    assert entry["chap"]["password"] not in pxe.file("/etc/dnsmasq.d/sanboot-pxe.conf").content_string


def test_pxe_rom_gets_its_reservation_this_server_and_ipxe(client, scenario):
    mac, ip = host(scenario, "pxeclient1")["mac"], host(scenario, "pxeclient1")["ip"]
    rc, lease = client.lease(mac)
    assert rc == 0 and lease, rc
    assert (lease.get("ip"), lease.get("siaddr"), lease.get("boot_file")) == (ip, scenario["server"], "undionly.kpxe"), lease
    assert "router" not in lease


def test_ipxe_gets_its_script(client, scenario):
    mac = host(scenario, "pxeclient1")["mac"]
    for how in ("option175", "userclass"):
        rc, lease = client.lease(mac, ipxe=how)
        assert rc == 0 and lease and lease.get("boot_file") == "ipxe/pxeclient1.ipxe", (how, lease)


def test_pxelinux_host_gets_pxelinux(client, scenario):
    mac, ip = host(scenario, "pxeclient2")["mac"], host(scenario, "pxeclient2")["ip"]
    for how in (None, "option175"):
        rc, lease = client.lease(mac, ipxe=how)
        assert rc == 0 and lease, (how, rc)
        assert (lease.get("ip"), lease.get("siaddr"), lease.get("boot_file")) == (ip, scenario["server"], "pxelinux.0"), lease


def test_lease_is_in_dnsmasqs_lease_file(pxe, client, scenario):
    mac, ip = host(scenario, "pxeclient1")["mac"], host(scenario, "pxeclient1")["ip"]
    assert client.lease(mac)[0] == 0
    leases = pxe.file("/var/lib/misc/dnsmasq.leases").content_string
    assert re.search(r"^\d+ %s %s " % (re.escape(mac), re.escape(ip)), leases, re.M), leases


def test_client_outside_the_reservations_gets_no_lease(client):
    rc, lease = client.lease("52:54:00:5b:01:99", tries=2, timeout=1)
    assert rc != 0 and lease is None, lease


def test_tftp_serves_every_boot_file_byte_for_byte(pxe, client, scenario):
    first, second = host(scenario, "pxeclient1"), host(scenario, "pxeclient2")
    client.use(first["mac"], first["ip"])
    root = scenario["tftp_root"]
    rels = list(LOADERS) + ["ipxe/pxeclient1.ipxe", "pxelinux.cfg/01-%s" % second["mac"].replace(":", "-"),
                            "images/current/vmlinuz", "images/current/initrd.img"]
    for rel in rels:
        rc, data = client.tftp(rel)
        assert rc == 0 and data, (rel, rc)
        assert hashlib.sha256(data).hexdigest() == pxe.file("%s/%s" % (root, rel)).sha256sum, rel
    # images/current is the current generation: the source files of g2
    sources = scenario["generations"][scenario["current"]]["files"]
    for name in ("vmlinuz", "initrd.img"):
        assert hashlib.sha256(client.tftp("images/current/" + name)[1]).hexdigest() == pxe.file(sources[name]).sha256sum
    cfg = client.tftp(rels[4])[1].decode()
    assert "images/current/vmlinuz" in cfg and "images/current/initrd.img" in cfg, cfg
    journal = pxe.check_output("journalctl -u dnsmasq --no-pager -o cat")
    for rel in rels:
        assert "sent %s/%s to %s" % (root, rel, first["ip"]) in journal, rel
