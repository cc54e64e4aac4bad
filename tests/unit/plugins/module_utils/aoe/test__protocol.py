# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AoE frames against hand-computed bytes (layout: lab-facts.md, AoE spec r11)."""

from __future__ import annotations

import struct

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol

SRC = "02:00:00:00:00:01"
TGT = "52:54:00:aa:bb:cc"


def h(text):
    return bytes.fromhex("".join(text.split()))


def test_query_config_request_bytes():
    frame = _protocol.pack_query_config(SRC, 3, 4, 0x01020304, pad=False)
    assert frame == h("ffffffffffff 020000000001 88a2"      # Ethernet: broadcast, src, 0x88A2
                      "10 00 0003 04 01 01020304"           # ver 1 request, error, shelf, slot, cmd 1, tag
                      "0000 0000 00 00 0000")               # bufcnt, fwver, scnt, ver/ccmd, cslen
    assert len(frame) == _protocol.QC_HLEN == 32


def test_short_frames_are_padded_to_60_bytes():
    frame = _protocol.pack_query_config(SRC, 3, 4, 1)
    assert len(frame) == 60 and frame[32:] == b"\0" * 28


def test_ata_read_request_bytes():
    frame = _protocol.pack_ata(TGT, SRC, 1, 0, 7, _protocol.ATA_READ_EXT, lba=0x123456, count=2)
    assert frame[:_protocol.ATA_HLEN] == h("525400aabbcc 020000000001 88a2"
                                           "10 00 0001 00 00 00000007"
                                           "40 00 02 24 563412000000 0000")   # aflags E, count, cmd, LBA LE
    assert len(frame) == 60


def test_ata_write_request_carries_data():
    data = bytes(range(256)) * 2
    frame = _protocol.pack_ata(TGT, SRC, 65534, 254, 0xFFFFFFFF, _protocol.ATA_WRITE_EXT, lba=(1 << 48) - 1,
                               count=1, data=data)
    assert frame[14:24] == h("10 00 fffe fe 00 ffffffff")
    assert frame[24:36] == h("41 00 01 34 ffffffffffff 0000")           # aflags E|W
    assert frame[36:] == data and len(frame) == 36 + 512


def test_identify_request_has_no_ext_flag():
    frame = _protocol.pack_ata(TGT, SRC, 1, 2, 9, _protocol.ATA_IDENTIFY, count=1)
    assert frame[24:28] == h("00 00 01 ec")


def test_lba_out_of_range_and_count():
    with pytest.raises(ValueError):
        _protocol.lba_bytes(1 << 48)
    with pytest.raises(ValueError):
        _protocol.pack_ata(TGT, SRC, 1, 0, 1, _protocol.ATA_READ_EXT, count=256)


def test_parse_query_config_reply_of_vblade():
    # what vblade 25 answered in the lab: 32 bytes, no config string, bufcnt 16, fw 0x4019, scnt 2
    frame = h("020000000001 525400aabbcc 88a2 18 00 0003 04 01 0badcafe 0010 4019 02 10 0000")
    reply = _protocol.parse_query_config(frame)
    assert reply["response"] and reply["error"] == 0
    assert (reply["src"], reply["dst"]) == (TGT, SRC)
    assert (reply["shelf"], reply["slot"], reply["command"], reply["tag"]) == (3, 4, 1, 0x0BADCAFE)
    assert (reply["buffer_count"], reply["firmware_version"], reply["sector_count"]) == (16, 0x4019, 2)
    assert (reply["aoe_version"], reply["ccmd"], reply["config"]) == (1, 0, "")


def test_parse_query_config_with_config_string():
    frame = h("020000000001 525400aabbcc 88a2 18 00 0003 04 01 00000001 0010 4019 02 10 0005") + b"hello"
    assert _protocol.parse_query_config(frame)["config"] == "hello"


def test_parse_ata_error_reply():
    # past the end: status 0x41 (DRDY|ERR) at byte 27, error 0x10 (IDNF) at byte 25
    frame = h("020000000001 525400aabbcc 88a2 18 00 0003 04 00 00000002 40 10 01 41 004000000000 0000")
    reply = _protocol.parse_ata(frame)
    assert (reply["status"], reply["ata_error"], reply["count"], reply["lba"]) == (0x41, 0x10, 1, 0x4000)
    assert reply["data"] == b""
    assert _protocol.decode_ata_status(reply["status"], reply["ata_error"]) == "ATA status 0x41 error 0x10 (IDNF)"
    assert _protocol.decode_ata_status(0x40, 0) is None
    assert "ABRT" in _protocol.decode_ata_status(0x41, 0x04)


def test_aoe_error_flag():
    frame = h("020000000001 525400aabbcc 88a2 1c 03 0003 04 00 00000002") + b"\0" * 12
    reply = _protocol.parse_ata(frame)
    assert reply["error"] == 3 and _protocol.decode_aoe_error(3) == "device unavailable"
    assert "unknown" in _protocol.decode_aoe_error(99)


def test_parse_rejects_foreign_and_short_frames():
    with pytest.raises(ValueError):
        _protocol.parse_frame(b"\0" * 20)
    with pytest.raises(ValueError):
        _protocol.parse_frame(h("ffffffffffff 020000000001 0800") + b"\0" * 20)
    with pytest.raises(ValueError):
        _protocol.parse_query_config(h("020000000001 525400aabbcc 88a2 18 00 0003 04 01 00000001"))


def _swap(text, words):
    raw = bytearray(text.ljust(words * 2).encode())
    raw[0::2], raw[1::2] = raw[1::2], raw[0::2]
    return bytes(raw)


def identify_block(sectors, lba48=True):
    words = [0] * 256
    words[83] = 1 << 10 if lba48 else 0
    words[60], words[61] = (sectors & 0xFFFF, (sectors >> 16) & 0xFFFF) if not lba48 else (0xFFFF, 0x0FFF)
    for i in range(4):
        words[100 + i] = (sectors >> (16 * i)) & 0xFFFF
    raw = bytearray(struct.pack("<256H", *words))
    raw[20:40] = _swap("3.4:vm", 10)
    raw[46:54] = _swap("V25", 4)
    raw[54:94] = _swap("Coraid EtherDrive vblade", 20)
    return bytes(raw)


def test_parse_identify_lba48():
    info = _protocol.parse_identify(identify_block(0x100004000))
    assert info == {"serial": "3.4:vm", "firmware": "V25", "model": "Coraid EtherDrive vblade",
                    "lba48": True, "sectors": 0x100004000, "size_bytes": 0x100004000 * 512}


def test_parse_identify_swaps_bytes_in_words():
    block = identify_block(16384)
    assert block[54:60] == b"oCardi"          # "Coraid" as stored on the wire
    assert _protocol.parse_identify(block)["model"].startswith("Coraid")


def test_parse_identify_lba28_and_short():
    assert _protocol.parse_identify(identify_block(1000, lba48=False))["sectors"] == 1000
    with pytest.raises(ValueError):
        _protocol.parse_identify(b"\0" * 100)


@pytest.mark.parametrize("mtu,limit,expected", [
    (1500, 0, 2), (9000, 0, 17), (9000, 2, 2), (65536, 0, 127), (1500, 255, 2)])
def test_max_sectors(mtu, limit, expected):
    assert _protocol.max_sectors(mtu, limit) == expected


def test_max_sectors_too_small_mtu():
    with pytest.raises(_protocol.AoEError):
        _protocol.max_sectors(500)


def test_mac_conversions():
    assert _protocol.mac_to_bytes("52-54-00-AA-bb-cc") == h("525400aabbcc")
    assert _protocol.mac_to_str(h("525400aabbcc")) == TGT
    with pytest.raises(ValueError):
        _protocol.mac_to_bytes("52:54:00")
    with pytest.raises(ValueError):
        _protocol.mac_to_bytes("zz:54:00:aa:bb:cc")
