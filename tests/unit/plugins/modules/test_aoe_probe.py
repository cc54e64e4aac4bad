# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aoe_probe's main() against test_aoe_probe.yaml.

Only the kernel is fake: ``_protocol``'s AF_PACKET socket, ``select`` and the SIOCGIFMTU ioctl
are replaced by an Ethernet segment in memory where vblade 25 look-alikes answer (Query Config
as vblade answered in the lab, IDENTIFY as vblade builds it, READ and WRITE on a sparse disk).
The module's own client (frames, tags, retries, chunking) runs unchanged; a request nobody
answers times out at once (select finds nothing to read).
"""

import errno
import socket
import struct
import types

import pytest

from _helper import Table, TableMismatch  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import aoe_probe
from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol as P

OWN_MAC = b"\x02\x00\x00\x00\x00\x01"
ATA_NAMES = {P.ATA_IDENTIFY: "IDENTIFY", P.ATA_READ_EXT: "READ", P.ATA_WRITE_EXT: "WRITE"}


def _ata_text(text, words):
    raw = bytearray(text.ljust(words * 2).encode())
    raw[0::2], raw[1::2] = raw[1::2], raw[0::2]         # ATA strings: bytes swapped in each word
    return bytes(raw)


class Vblade(object):
    """One AoE target: ``{mac, shelf, slot, sectors, config, hostname, data: {lba: hex},
    silent: [IDENTIFY|READ|WRITE]}``."""

    def __init__(self, spec):
        self.spec, self.mac = spec, P.mac_to_bytes(spec["mac"])
        self.disk = bytearray(spec["sectors"] * P.SECTOR_SIZE)
        for lba, text in (spec.get("data") or {}).items():
            raw = bytes.fromhex(text)
            self.disk[int(lba) * 512:int(lba) * 512 + len(raw)] = raw

    def identify(self):
        words = [0] * 256
        words[83] = 1 << 10                               # LBA48 supported
        for i in range(4):
            words[100 + i] = (self.spec["sectors"] >> (16 * i)) & 0xFFFF
        raw = bytearray(struct.pack("<256H", *words))
        raw[20:40] = _ata_text("%d.%d:%s" % (self.spec["shelf"], self.spec["slot"],
                                             self.spec.get("hostname", "vm")), 10)
        raw[46:54] = _ata_text("V25", 4)
        raw[54:94] = _ata_text("Coraid EtherDrive vblade", 20)
        return bytes(raw)

    def answer(self, req, mtu):
        """Reply frames to one request frame (``req`` parsed), and the request as text."""
        if (req["shelf"], req["slot"]) not in ((self.spec["shelf"], self.spec["slot"]),
                                               (self.spec["shelf"], P.BROADCAST_SLOT),
                                               (P.BROADCAST_SHELF, P.BROADCAST_SLOT)):
            return []
        head = P.pack_header(req["src"], self.mac, self.spec["shelf"], self.spec["slot"], req["command"],
                             req["tag"], flags=P.FLAG_RESPONSE)
        if req["command"] == P.CMD_QUERY_CONFIG:
            cfg = self.spec.get("config", "").encode()
            return [head + struct.pack("!HHBBH", 16, 0x4019, (mtu - P.ATA_HLEN) // 512, 0x10, len(cfg)) + cfg]
        if req["dst"] != self.spec["mac"]:
            return []
        ata = P.parse_ata(req["frame"])
        name = ATA_NAMES[ata["status"]]
        if name in (self.spec.get("silent") or []):
            return []
        start, size = ata["lba"] * 512, ata["count"] * 512
        data = b""
        if name == "IDENTIFY":
            data = self.identify()
        elif name == "READ":
            data = bytes(self.disk[start:start + size])
        else:
            self.disk[start:start + size] = ata["data"][:size]
        return [head + struct.pack("!BBBB6s2x", ata["aflags"], 0, ata["count"], 0x40, P.lba_bytes(ata["lba"])) + data]


class Segment(object):
    """The Ethernet segment of ``mocks.aoe``: ``{interface, mtu, targets: [...], open_error: [errno,
    text], sent: [every request as text, checked], disks: {mac: {lba: hex prefix}}, checked}``."""

    def __init__(self, spec, ctx):
        self.spec, self.sent, self.queue = spec, [], []
        self.targets = [Vblade(t) for t in spec.get("targets") or []]
        mp = ctx.monkeypatch
        mp.setattr(P, "socket", types.SimpleNamespace(
            socket=self.socket, AF_PACKET=socket.AF_PACKET, SOCK_RAW=socket.SOCK_RAW, htons=socket.htons,
            PACKET_OUTGOING=socket.PACKET_OUTGOING))
        mp.setattr(P, "select", types.SimpleNamespace(
            select=lambda r, w, x, timeout=None: (r if self.queue else [], [], [])))
        mp.setattr(P, "fcntl", types.SimpleNamespace(
            ioctl=lambda fd, request, ifreq: struct.pack("16si", ifreq[:16], spec.get("mtu", 1500))))

    def socket(self, family, kind, proto):
        assert (family, kind, proto) == (socket.AF_PACKET, socket.SOCK_RAW, socket.htons(P.ETH_P_AOE))
        return FakeSocket(self)

    def send(self, frame):
        req = P.parse_frame(frame)
        req["frame"] = frame
        if req["command"] == P.CMD_QUERY_CONFIG:
            self.sent.append("Query Config e%d.%d to %s" % (req["shelf"], req["slot"], req["dst"]))
        else:
            ata = P.parse_ata(frame)
            self.sent.append("%s e%d.%d to %s lba %d count %d" % (
                ATA_NAMES[ata["status"]], req["shelf"], req["slot"], req["dst"], ata["lba"], ata["count"]))
        for target in self.targets:
            self.queue.extend(target.answer(req, self.spec.get("mtu", 1500)))

    def verify(self):
        if "sent" in self.spec and self.sent != self.spec["sent"]:
            raise TableMismatch("AoE requests sent:\n  %r\ntable\n  %r" % (self.sent, self.spec["sent"]))
        for target in self.targets:
            for lba, text in ((self.spec.get("disks") or {}).get(target.spec["mac"]) or {}).items():
                got = bytes(target.disk[int(lba) * 512:int(lba) * 512 + len(text) // 2]).hex()
                if got != text:
                    raise TableMismatch("disk of %s at lba %s: %s, table %s" % (target.spec["mac"], lba, got, text))


class FakeSocket(object):
    def __init__(self, segment):
        self.segment = segment

    def bind(self, address):
        error = self.segment.spec.get("open_error")
        if error:
            raise OSError(error[0], error[1])
        if address != (self.segment.spec.get("interface", "eth1"), P.ETH_P_AOE):
            raise OSError(errno.ENODEV, "No such device")
        self.interface = address[0]

    def getsockname(self):
        return (self.interface, P.ETH_P_AOE, 0, 1, OWN_MAC)

    def fileno(self):
        return -1

    def send(self, frame):
        self.segment.send(frame)
        return len(frame)

    def recvfrom(self, size):
        return self.segment.queue.pop(0)[:size], (self.interface, P.ETH_P_AOE, socket.PACKET_HOST, 1, b"")

    def close(self):
        pass


TABLE = Table(aoe_probe, __file__, mocks=dict(aoe=Segment))


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
