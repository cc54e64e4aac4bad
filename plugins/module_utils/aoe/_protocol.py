# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ATA over Ethernet (AoE) protocol, version 1 (private): frames and a tiny client.

Source of the layout: the AoE specification r11 (Coraid, 2009) and ``lab-facts.md``.
Every frame is an Ethernet frame with ethertype 0x88A2.  After the 14-byte Ethernet header
comes the common AoE header ``!BBHBBI`` (ver<<4|flags, error, shelf, slot, command, tag):

* Query Config (command 1), 8 more bytes ``!HHBBH`` (buffer count, firmware version,
  sector count, ver<<4|ccmd, config string length) and the config string;
* ATA (command 0), 12 more bytes: aflags, error/feature, sector count, command/status,
  lba0..lba5 (little-endian), 2 reserved, then the data (from byte 36 of the frame).

Only the standard library is used (AF_PACKET raw sockets, Linux only, root needed): no
scapy, no aoe driver (the lab hosts have none, and aoetools drop vblade's short replies).
"""

from __future__ import annotations

import binascii
import fcntl
import os
import select
import socket
import struct
import time

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

ETH_P_AOE = 0x88A2
AOE_VERSION = 1
ETH_HLEN = 14
AOE_HLEN = ETH_HLEN + 10          # 24: Ethernet + common AoE header
QC_HLEN = AOE_HLEN + 8            # 32: + Query Config header
ATA_HLEN = AOE_HLEN + 12          # 36: + ATA header; data starts here
ETH_ZLEN = 60                     # minimum Ethernet frame without FCS
SECTOR_SIZE = 512
BROADCAST_MAC = b"\xff" * 6
BROADCAST_SHELF = 0xFFFF
BROADCAST_SLOT = 0xFF

FLAG_RESPONSE = 0x08
FLAG_ERROR = 0x04

CMD_ATA = 0
CMD_QUERY_CONFIG = 1
CCMD_READ = 0

AFLAG_EXT = 0x40                   # LBA48 command
AFLAG_DEV = 0x10
AFLAG_ASYNC = 0x02
AFLAG_WRITE = 0x01

ATA_IDENTIFY = 0xEC
ATA_READ_EXT = 0x24
ATA_WRITE_EXT = 0x34

ATA_STATUS_ERR = 0x01
ATA_STATUS_DF = 0x20
ATA_ERROR_BITS = ((0x80, "ICRC"), (0x40, "UNC"), (0x20, "MC"), (0x10, "IDNF"),
                  (0x08, "MCR"), (0x04, "ABRT"), (0x02, "NM"), (0x01, "AMNF"))

AOE_ERRORS = {
    1: "unrecognized command code",
    2: "bad argument parameter",
    3: "device unavailable",
    4: "config string present",
    5: "unsupported version",
    6: "target is reserved",
}

_COMMON = struct.Struct("!BBHBBI")
_QC = struct.Struct("!HHBBH")
_ATA = struct.Struct("!BBBB6s2x")
SIOCGIFMTU = 0x8921


class AoEError(SanbootError):
    """An AoE exchange failed (timeout, error flag, ATA error status)."""


def mac_to_bytes(mac):
    """``"aa:bb:cc:dd:ee:ff"`` (or ``aabbccddeeff``, ``-`` separators) -> 6 bytes."""
    if isinstance(mac, bytes) and len(mac) == 6:
        return mac
    text = str(mac).replace(":", "").replace("-", "").strip()
    if len(text) != 12:
        raise ValueError("not a MAC address: %r" % (mac,))
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, TypeError):
        raise ValueError("not a MAC address: %r" % (mac,))


def mac_to_str(raw):
    """6 bytes -> ``"aa:bb:cc:dd:ee:ff"``."""
    return ":".join("%02x" % b for b in bytearray(raw))


def _pad(frame):
    return frame + b"\0" * (ETH_ZLEN - len(frame)) if len(frame) < ETH_ZLEN else frame


def pack_header(dst, src, shelf, slot, command, tag, flags=0, error=0):
    """Ethernet + common AoE header (24 bytes)."""
    return (mac_to_bytes(dst) + mac_to_bytes(src) + struct.pack("!H", ETH_P_AOE)
            + _COMMON.pack((AOE_VERSION << 4) | flags, error, shelf, slot, command, tag))


def pack_query_config(src, shelf, slot, tag, dst=BROADCAST_MAC, pad=True):
    """A Query Config 'read' request (command 1, ccmd 0, no config string)."""
    frame = pack_header(dst, src, shelf, slot, CMD_QUERY_CONFIG, tag) + _QC.pack(0, 0, 0, CCMD_READ, 0)
    return _pad(frame) if pad else frame


def lba_bytes(lba):
    """LBA48 as 6 little-endian bytes (lba0 first)."""
    if not 0 <= lba < (1 << 48):
        raise ValueError("LBA %r outside 0..2**48-1" % (lba,))
    return struct.pack("<Q", lba)[:6]


def pack_ata(dst, src, shelf, slot, tag, ata_cmd, lba=0, count=0, data=b"", aflags=None, pad=True):
    """An ATA request (command 0).  ``aflags`` defaults from the ATA command."""
    if aflags is None:
        aflags = {ATA_READ_EXT: AFLAG_EXT, ATA_WRITE_EXT: AFLAG_EXT | AFLAG_WRITE}.get(ata_cmd, 0)
    if not 0 <= count <= 255:
        raise ValueError("sector count %r outside 0..255" % (count,))
    frame = (pack_header(dst, src, shelf, slot, CMD_ATA, tag)
             + _ATA.pack(aflags, 0, count, ata_cmd, lba_bytes(lba)) + bytes(data))
    return _pad(frame) if pad else frame


def parse_frame(frame):
    """Parse any AoE frame -> dict (dst, src, version, flags, response, error, shelf, slot,
    command, tag, payload).  Raises ``ValueError`` on a short or foreign frame."""
    frame = bytes(frame)
    if len(frame) < AOE_HLEN:
        raise ValueError("frame of %d bytes is shorter than an AoE header" % len(frame))
    if struct.unpack("!H", frame[12:14])[0] != ETH_P_AOE:
        raise ValueError("not an AoE frame (ethertype 0x%04x)" % struct.unpack("!H", frame[12:14])[0])
    verflags, error, shelf, slot, command, tag = _COMMON.unpack(frame[ETH_HLEN:AOE_HLEN])
    return {
        "dst": mac_to_str(frame[0:6]), "src": mac_to_str(frame[6:12]),
        "version": verflags >> 4, "flags": verflags & 0x0F,
        "response": bool(verflags & FLAG_RESPONSE), "error": error if verflags & FLAG_ERROR else 0,
        "shelf": shelf, "slot": slot, "command": command, "tag": tag, "payload": frame[AOE_HLEN:],
    }


def parse_query_config(frame):
    """Parse a Query Config response -> dict (header fields + buffer_count, firmware_version,
    sector_count, aoe_version, ccmd, config)."""
    hdr = parse_frame(frame)
    body = hdr.pop("payload")
    if len(body) < _QC.size:
        raise ValueError("Query Config frame too short (%d bytes)" % (AOE_HLEN + len(body)))
    bufcnt, fwver, scnt, verccmd, cslen = _QC.unpack(body[:_QC.size])
    config = body[_QC.size:_QC.size + cslen]
    hdr.update(buffer_count=bufcnt, firmware_version=fwver, sector_count=scnt,
               aoe_version=verccmd >> 4, ccmd=verccmd & 0x0F,
               config=config.decode("latin-1"))
    return hdr


def parse_ata(frame):
    """Parse an ATA response -> dict (header fields + aflags, ata_error, count, status, lba, data)."""
    hdr = parse_frame(frame)
    body = hdr.pop("payload")
    if len(body) < _ATA.size:
        raise ValueError("ATA frame too short (%d bytes)" % (AOE_HLEN + len(body)))
    aflags, err, count, status, lba = _ATA.unpack(body[:_ATA.size])
    hdr.update(aflags=aflags, ata_error=err, count=count, status=status,
               lba=struct.unpack("<Q", lba + b"\0\0")[0], data=body[_ATA.size:])
    return hdr


def decode_aoe_error(code):
    """AoE header error code -> text (AoE spec r11 §2.4)."""
    return AOE_ERRORS.get(code, "unknown AoE error %d" % code)


def decode_ata_status(status, error):
    """ATA status/error registers -> None when fine, else a readable text."""
    if not status & (ATA_STATUS_ERR | ATA_STATUS_DF):
        return None
    names = [name for bit, name in ATA_ERROR_BITS if error & bit] or ["none"]
    return "ATA status 0x%02x error 0x%02x (%s)" % (status, error, "|".join(names))


def _ata_string(data, first_word, words):
    raw = bytearray(data[first_word * 2:(first_word + words) * 2])
    raw[0::2], raw[1::2] = raw[1::2], raw[0::2]        # ATA strings: bytes swapped in each word
    return bytes(raw).decode("latin-1").strip(" \0")


def parse_identify(data):
    """512 bytes of IDENTIFY DEVICE -> dict (serial, firmware, model, lba48, sectors, size_bytes).

    Words 10-19 serial, 23-26 firmware, 27-46 model (ATA8-ACS §7.16); LBA48 sector count in
    words 100-103 when word 83 bit 10 says LBA48, else the LBA28 count in words 60-61."""
    if len(data) < SECTOR_SIZE:
        raise ValueError("IDENTIFY data is %d bytes, expected 512" % len(data))
    words = struct.unpack("<256H", bytes(data[:SECTOR_SIZE]))
    lba48 = bool(words[83] & (1 << 10))
    if lba48:
        sectors = words[100] | words[101] << 16 | words[102] << 32 | words[103] << 48
    else:
        sectors = words[60] | words[61] << 16
    return {"serial": _ata_string(data, 10, 10), "firmware": _ata_string(data, 23, 4),
            "model": _ata_string(data, 27, 20), "lba48": lba48, "sectors": sectors,
            "size_bytes": sectors * SECTOR_SIZE}


def max_sectors(mtu, target_limit=0):
    """Sectors per ATA request that fit an MTU: ``(mtu - 36) // 512`` (the Linux aoe driver's
    rule; 36 = Ethernet + AoE + ATA headers, a small margin over the 22 bytes that really count
    against the MTU), capped at 255 and at the target's Query Config sector count when given."""
    n = min((int(mtu) - ATA_HLEN) // SECTOR_SIZE, 255)
    if target_limit:
        n = min(n, target_limit)
    if n < 1:
        raise AoEError("MTU %s is too small for one 512-byte sector" % mtu)
    return n


class AoEClient(object):
    """One-request-in-flight AoE initiator on ``interface`` (AF_PACKET, needs root).

    ``discover`` broadcasts Query Config; ``identify``/``read``/``write`` talk to one target MAC.
    Each request is retried ``retries`` times after ``timeout`` seconds without a matching reply
    (same tag, response flag, expected shelf/slot and command).
    """

    def __init__(self, interface, timeout=1.0, retries=3):
        self.interface = interface
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_AOE))
        try:
            self.sock.bind((interface, ETH_P_AOE))
            self.mac = self.sock.getsockname()[4][:6]
            ifreq = struct.pack("16si", interface.encode()[:15], 0)
            self.mtu = struct.unpack("16si", fcntl.ioctl(self.sock.fileno(), SIOCGIFMTU, ifreq))[1]
        except Exception:
            self.sock.close()
            raise
        self._tag = struct.unpack("!I", os.urandom(4))[0] & 0x7FFFFFFF

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def next_tag(self):
        self._tag = (self._tag + 1) & 0x7FFFFFFF
        return self._tag

    def _receive(self, deadline):
        """Next AoE response frame before ``deadline``, or None."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _w, _x = select.select([self.sock], [], [], left)
            if not ready:
                return None
            frame, addr = self.sock.recvfrom(65536)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            try:
                hdr = parse_frame(frame)
            except ValueError:
                continue
            if hdr["response"]:
                return frame, hdr

    def exchange(self, build, match, collect=False):
        """Send ``build(tag)``; return the first reply for which ``match(hdr)`` holds
        (with ``collect``: every reply until the timeout, after the first try that got any)."""
        for _attempt in range(self.retries + 1):
            tag = self.next_tag()
            self.sock.send(build(tag))
            deadline = time.monotonic() + self.timeout
            replies = []
            while True:
                got = self._receive(deadline)
                if got is None:
                    break
                frame, hdr = got
                if hdr["tag"] != tag or not match(hdr):
                    continue
                if not collect:
                    return frame
                replies.append(frame)
            if collect and replies:
                return replies
        if collect:
            return []
        raise AoEError("no AoE reply on %s after %d tries of %.1f s"
                       % (self.interface, self.retries + 1, self.timeout))

    def discover(self, shelf=BROADCAST_SHELF, slot=BROADCAST_SLOT):
        """Broadcast Query Config -> list of parsed replies (one per target answering)."""
        def match(hdr):
            return (hdr["command"] == CMD_QUERY_CONFIG and shelf in (BROADCAST_SHELF, hdr["shelf"])
                    and slot in (BROADCAST_SLOT, hdr["slot"]))

        frames = self.exchange(lambda tag: pack_query_config(self.mac, shelf, slot, tag), match, collect=True)
        found = {}
        for frame in frames:
            reply = parse_query_config(frame)
            if bytearray(mac_to_bytes(reply["src"]))[0] & 1 or reply["src"] == "00:00:00:00:00:00":
                continue                 # a group or zero source address is nobody to talk to
            found[(reply["src"], reply["shelf"], reply["slot"])] = reply
        return [found[k] for k in sorted(found)]

    def ata(self, target, ata_cmd, lba=0, count=0, data=b""):
        """One ATA command to ``target`` (a Query Config reply dict) -> parsed response."""
        dst, shelf, slot = target["src"], target["shelf"], target["slot"]

        def match(hdr):
            return hdr["command"] == CMD_ATA and hdr["shelf"] == shelf and hdr["slot"] == slot

        reply = parse_ata(self.exchange(
            lambda tag: pack_ata(dst, self.mac, shelf, slot, tag, ata_cmd, lba, count, data), match))
        names = {ATA_IDENTIFY: "IDENTIFY", ATA_READ_EXT: "READ", ATA_WRITE_EXT: "WRITE"}
        where = "e%d.%d %s" % (shelf, slot, names.get(ata_cmd, hex(ata_cmd)))
        if reply["error"]:
            raise AoEError("%s: AoE error %d: %s" % (where, reply["error"], decode_aoe_error(reply["error"])))
        problem = decode_ata_status(reply["status"], reply["ata_error"])
        if problem:
            raise AoEError("%s at LBA %d: %s" % (where, lba, problem))
        return reply

    def identify(self, target):
        return parse_identify(self.ata(target, ATA_IDENTIFY, count=1)["data"][:SECTOR_SIZE])

    def _chunks(self, target, lba, count):
        step = max_sectors(self.mtu, target.get("sector_count", 0))
        while count > 0:
            n = min(step, count)
            yield lba, n
            lba, count = lba + n, count - n

    def read(self, target, lba, count):
        """Read ``count`` sectors from ``lba`` -> bytes."""
        out = []
        for at, n in self._chunks(target, lba, count):
            data = self.ata(target, ATA_READ_EXT, at, n)["data"]
            if len(data) < n * SECTOR_SIZE:
                raise AoEError("short read at LBA %d: %d bytes for %d sectors" % (at, len(data), n))
            out.append(data[:n * SECTOR_SIZE])
        return b"".join(out)

    def write(self, target, lba, data):
        """Write ``data`` (a multiple of 512 bytes) from ``lba``."""
        if not data or len(data) % SECTOR_SIZE:
            raise ValueError("write data must be a non-empty multiple of 512 bytes, got %d" % len(data))
        for at, n in self._chunks(target, lba, len(data) // SECTOR_SIZE):
            start = (at - lba) * SECTOR_SIZE
            self.ata(target, ATA_WRITE_EXT, at, n, data[start:start + n * SECTOR_SIZE])
