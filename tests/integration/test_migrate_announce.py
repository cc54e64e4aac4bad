# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration's ``announce: at_switchover`` helper against a real Linux bridge.

A network namespace plays the destination hypervisor: bridge ``sbann-br`` with two veth
ports, ``sbann-t`` (the guest's new tap; its peer ``sbann-g`` in the root namespace is where
frames for the guest arrive) and ``sbann-u`` (the uplink; its peer ``sbann-n`` in the root
namespace is "the network").  The helper runs in the namespace exactly as it runs over ssh
(``sh -c "python3 -c HELPER"``), and finds the tap by itself as on a hypervisor: the port whose
address is the guest's MAC with ``fe`` as its first byte (libvirt's rule for taps), which may
appear after the helper started.  Checked: the guest MAC is pinned to the tap and frames the
source guest still sends cannot move it; ``go`` puts QEMU's RARP frame on the network; a frame
for the guest then reaches the tap; the pin is gone at the end; and the source's re-announce.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import time

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._announce import (
    HELPER, SwitchoverAnnouncer, reannounce,
)

pytestmark = pytest.mark.integration

NS = "sbann-d"
MAC = "52:54:00:5b:0a:01"
TAP_MAC = "fe:54:00:5b:0a:01"  # what libvirt gives the guest's tap
PEER = "02:5b:00:0a:00:02"     # another host on the network
IN_NS = ["ip", "netns", "exec", NS]


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def fdb(mac=MAC):
    out = subprocess.run(IN_NS + ["bridge", "fdb", "show", "br", "sbann-br"], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.startswith(mac + " ")]


def raw(ifname):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((ifname, 0))
    sock.settimeout(0.2)
    return sock


def mac_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def frame(dst, src, ethertype=0x88B5, payload=b"sanboot"):
    return (mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype)
            + payload).ljust(60, b"\0")


def received(sock, want, seconds=2.0):
    """Frames on ``sock`` for which ``want(frame)`` holds, within ``seconds``."""
    found, end = [], time.time() + seconds
    while time.time() < end:
        try:
            data = sock.recv(2048)
        except socket.timeout:
            continue
        if want(data):
            found.append(data)
    return found


def cleanup():
    # deleting the root namespace's ends removes each pair at once (a namespace goes later)
    for peer in ("sbann-g", "sbann-n"):
        subprocess.run(["ip", "link", "del", peer], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)


@pytest.fixture
def bridge():
    cleanup()
    sh("ip", "netns", "add", NS)
    try:
        sh(*IN_NS, "ip", "link", "add", "sbann-br", "type", "bridge", "stp_state", "0",
           "forward_delay", "0")
        sh("ip", "link", "add", "sbann-n", "type", "veth", "peer", "name", "sbann-u", "netns", NS)
        sh(*IN_NS, "ip", "link", "set", "sbann-u", "master", "sbann-br", "up")
        sh("ip", "link", "set", "sbann-n", "up")
        sh(*IN_NS, "ip", "link", "set", "sbann-br", "up")
        # the source guest's frames taught the destination's bridge: MAC behind the uplink
        with raw("sbann-n") as net:
            net.send(frame("ff:ff:ff:ff:ff:ff", MAC))
        time.sleep(0.2)
        assert "dev sbann-u" in " ".join(fdb())
        yield add_tap
    finally:
        cleanup()


def add_tap():
    """The incoming guest's tap appears in the bridge (a veth here, with a tap's address)."""
    sh("ip", "link", "add", "sbann-g", "type", "veth", "peer", "name", "sbann-t", "netns", NS)
    sh(*IN_NS, "ip", "link", "set", "sbann-t", "address", TAP_MAC)
    sh(*IN_NS, "ip", "link", "set", "sbann-t", "master", "sbann-br", "up")
    sh("ip", "link", "set", "sbann-g", "up")


def armed(seconds=5.0):
    """Wait until the helper pinned MAC to the tap."""
    end = time.time() + seconds
    while time.time() < end:
        if any("dev sbann-t" in line and "sticky" in line for line in fdb()):
            return True
        time.sleep(0.02)
    return False


def is_rarp(data):
    return data[12:14] == b"\x80\x35" and data[6:12] == mac_bytes(MAC)


def test_pin_announce_deliver_and_unpin(bridge):
    announcer = SwitchoverAnnouncer(IN_NS + ["sh", "-c"])
    assert announcer.start([MAC])
    try:
        assert announcer.wait_ready()
        bridge()  # the incoming tap appears while the helper watches
        assert armed()
        pinned = " ".join(fdb())
        assert "dev sbann-t" in pinned and "static" in pinned and "sticky" in pinned
        with raw("sbann-n") as net, raw("sbann-g") as tap:
            # the source guest still talks before its pause: the pin holds
            net.send(frame("ff:ff:ff:ff:ff:ff", MAC))
            time.sleep(0.1)
            assert "dev sbann-t" in " ".join(fdb())
            announcer.go()
            rarps = received(net, is_rarp, 1.0)
            # a frame for the guest now reaches its new tap
            net.send(frame(MAC, PEER))
            to_guest = received(tap, lambda d: d[:12] == frame(MAC, PEER)[:12], 1.0)
    finally:
        report = announcer.finish()
    assert len(rarps) == 3
    rarp = rarps[0]
    assert rarp[:6] == b"\xff" * 6 and len(rarp) == 60
    # RARP "reverse request" (op 3) for Ethernet/IPv4 with the guest's MAC as sender and target
    assert struct.unpack("!HHBBH", rarp[14:22]) == (1, 0x0800, 6, 4, 3)
    assert rarp[22:28] == rarp[32:38] == rarp[6:12]
    assert to_guest
    assert report["announced"] and report["armed"] == "1 of 1 NICs", report
    assert report["taps"] == {MAC: "sbann-t in sbann-br"}, report
    assert report["go_via"] == "ssh", report
    # the helper waits for the pause at real-time priority (root outside a container; nice -20
    # where the cgroup gives no real-time runtime)
    assert report["priority"]["helper"] in ("fifo", "nice-20"), report
    assert 0 <= report["announced_after_pause_ms"] < 1000, report
    assert "errors" not in report, report
    assert not any("sticky" in line for line in fdb())


def test_go_by_udp(bridge):
    """``go`` as a datagram to the helper's port (the destination's address given): link-local
    IPv6 between the root namespace and the bridge, so that no routed address is involved."""
    sh(*IN_NS, "ip", "addr", "add", "fe80::5b:1/64", "dev", "sbann-br", "nodad")
    sh("ip", "addr", "add", "fe80::5b:2/64", "dev", "sbann-n", "nodad")
    bridge()
    announcer = SwitchoverAnnouncer(IN_NS + ["sh", "-c"])
    assert announcer.start([MAC], "fe80::5b:1%sbann-n")
    try:
        assert announcer.wait_ready() and len(announcer.udp) == 3  # its "udp PORT" came first
        assert armed()
        with raw("sbann-n") as net:
            with announcer.lock:  # the ssh line cannot get through first
                announcer.go_at = time.time()
                announcer.udp[0].sendto(b"go " + announcer.token.encode(), announcer.udp[2])
                rarps = received(net, is_rarp, 1.0)
    finally:
        report = announcer.finish()
    assert len(rarps) == 3
    assert report["announced"] and report["go_via"] == "udp", report
    # a datagram without the token does nothing
    stranger = SwitchoverAnnouncer(IN_NS + ["sh", "-c"])
    assert stranger.start([MAC], "fe80::5b:1%sbann-n")
    try:
        assert stranger.wait_ready() and armed()
        with raw("sbann-n") as net:
            stranger.udp[0].sendto(b"go 0123", stranger.udp[2])
            assert not received(net, is_rarp, 0.5)
    finally:
        assert not stranger.finish()["announced"]


def test_go_port_only_on_the_given_address(bridge):
    """The helper's UDP port listens on the address the source reaches it at, not on every
    address of the host (the namespace's loopback here; the datagram sent from inside)."""
    bridge()
    sh(*IN_NS, "ip", "link", "set", "lo", "up")
    helper = subprocess.Popen(IN_NS + ["python3", "-c", HELPER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        helper.stdin.write("udp sesame 4 127.0.0.1\nwatch %s\n" % MAC)
        helper.stdin.flush()
        assert helper.stdout.readline().split()[0] == "sched"  # fifo here (root, no container)
        port = int(helper.stdout.readline().split()[1])
        assert helper.stdout.readline().strip() == "ready"
        assert armed()
        listening = subprocess.run(IN_NS + ["ss", "-Hunl"], check=True, capture_output=True,
                                   text=True).stdout.split()
        assert "127.0.0.1:%d" % port in listening and "0.0.0.0:%d" % port not in listening
        with raw("sbann-n") as net:
            sh(*IN_NS, "python3", "-c", "import socket; socket.socket(socket.AF_INET, "
               "socket.SOCK_DGRAM).sendto(b'go sesame', ('127.0.0.1', %d))" % port)
            assert len(received(net, is_rarp, 1.0)) == 3
    finally:
        out = helper.communicate("end\n", timeout=20)[0]
    assert "sent " in out and out.split("sent ")[1].split()[1] == "udp", out


def test_without_a_pause_nothing_is_announced_and_the_pin_goes(bridge):
    bridge()
    announcer = SwitchoverAnnouncer(IN_NS + ["sh", "-c"])
    assert announcer.start([MAC])
    assert armed()
    with raw("sbann-n") as net:
        report = announcer.finish()
        assert not received(net, is_rarp, 0.5)
    assert not report["announced"] and report["armed"] == "1 of 1 NICs", report
    assert report["errors"] == ["the source's pause was not seen"]
    assert not any("sticky" in line for line in fdb())


def test_a_tap_that_never_appears_is_reported(bridge):
    announcer = SwitchoverAnnouncer(IN_NS + ["sh", "-c"])
    assert announcer.start([MAC])
    with raw("sbann-n") as net:
        time.sleep(0.2)
        announcer.go()
        report = announcer.finish()
        assert not received(net, is_rarp, 0.5)
    assert report["armed"] == "0 of 1 NICs" and not report["announced"], report
    assert report["errors"] == ["error nothing was armed when the source paused"], report
    assert not fdb() or not any("sticky" in line for line in fdb())


def test_source_reannounce(bridge):
    bridge()

    def runner(argv, check=False, data=None):
        proc = subprocess.run(IN_NS + argv, input=data, capture_output=True, text=True,
                              check=check)
        return proc.returncode, proc.stdout, proc.stderr

    with raw("sbann-n") as net:
        assert reannounce(runner, [MAC])
        assert len(received(net, is_rarp, 1.0)) == 3
    assert not any("sticky" in line for line in fdb())
