# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pipelined AoE reads against a fake target on a datagram socket pair (no root, no network)."""

from __future__ import annotations

import itertools
import socket
import threading
import types

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol, _window

CLIENT_MAC = "02:00:00:00:00:01"
TARGET_MAC = "52:54:00:aa:bb:cc"
SECTORS = 64
DISK = bytes((i * 7 + i // 512) & 0xFF for i in range(SECTORS * 512))


class FakeTarget(threading.Thread):
    """Answers ATA READ requests from DISK; replies to each batch of ``batch`` requests in
    reverse order (or to what came within 50 ms), drops the first request for ``drop_lba``."""

    def __init__(self, sock, batch=1, drop_lba=None, status=0x40, aoe_error=0, noise=False):
        super().__init__(daemon=True)
        self.sock, self.batch, self.drop_lba = sock, batch, drop_lba
        self.status, self.aoe_error, self.noise = status, aoe_error, noise
        self.requests, self.max_outstanding, self.stop = [], 0, False

    def reply(self, req):
        n = req["count"]
        data = DISK[req["lba"] * 512:(req["lba"] + n) * 512]
        flags = _protocol.FLAG_RESPONSE | (_protocol.FLAG_ERROR if self.aoe_error else 0)
        frame = _protocol.pack_header(CLIENT_MAC, TARGET_MAC, req["shelf"], req["slot"], _protocol.CMD_ATA,
                                      req["tag"], flags=flags, error=self.aoe_error)
        frame += _protocol._ATA.pack(0x40, 0x04 if self.status & 1 else 0, n, self.status,
                                     _protocol.lba_bytes(req["lba"])) + data
        if self.noise:       # a stale tag and a looped-back request first: both must be ignored
            self.sock.send(frame[:20] + b"\xde\xad\xbe\xef" + frame[24:])
            self.sock.send(_protocol.pack_ata(TARGET_MAC, CLIENT_MAC, 1, 0, req["tag"], 0x24, 0, 1))
        self.sock.send(frame)

    def run(self):
        self.sock.settimeout(0.05)
        pending, answered = [], 0
        while not self.stop:
            try:
                req = _protocol.parse_ata(self.sock.recv(65536))
            except socket.timeout:
                req = None
            if req is not None:
                self.requests.append(req)
                self.max_outstanding = max(self.max_outstanding, len(self.requests) - answered)
                if req["lba"] == self.drop_lba and sum(r["lba"] == self.drop_lba for r in self.requests) == 1:
                    answered += 1          # lost on the wire: the client must send it again
                    continue
                pending.append(req)
            if pending and (req is None or len(pending) >= self.batch):
                for item in reversed(pending):
                    self.reply(item)
                answered += len(pending)
                pending = []


@pytest.fixture
def pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    yield a, b
    a.close()
    b.close()


def client_on(sock, timeout=1.0, retries=2):
    tags = itertools.count(100)
    return types.SimpleNamespace(sock=sock, mac=_protocol.mac_to_bytes(CLIENT_MAC), mtu=1500, timeout=timeout,
                                 retries=retries, interface="fake0", next_tag=lambda: next(tags))


def target(buffer_count=16):
    return {"src": TARGET_MAC, "shelf": 1, "slot": 0, "sector_count": 0, "buffer_count": buffer_count}


def serve(sock, **kw):
    fake = FakeTarget(sock, **kw)
    fake.start()
    return fake


@pytest.mark.parametrize("window, buffer_count, expected", [(8, 16, 8), (8, 4, 4), (8, 0, 8), (0, 16, 1)])
def test_effective_window(window, buffer_count, expected):
    assert _window.effective_window(target(buffer_count), window) == expected


@pytest.mark.parametrize("window, buffer_count", [(1, 16), (4, 16), (8, 3)])
def test_reads_in_any_order_and_keeps_the_window(pair, window, buffer_count):
    fake = serve(pair[1], batch=window)
    try:
        got = _window.read_windowed(client_on(pair[0]), target(buffer_count), 3, 41, window=window)
    finally:
        fake.stop = True
        fake.join()
    assert bytes(got) == DISK[3 * 512:44 * 512]
    assert fake.max_outstanding == min(window, buffer_count)
    assert [r["count"] for r in fake.requests] == [2] * 20 + [1]       # MTU 1500: 2 sectors a frame
    assert sorted(r["lba"] for r in fake.requests) == list(range(3, 44, 2))


def test_fills_a_given_buffer_and_ignores_foreign_frames(pair):
    fake = serve(pair[1], batch=4, noise=True)
    buf = bytearray(SECTORS * 512 + 10)
    try:
        out = _window.read_windowed(client_on(pair[0]), target(), 0, SECTORS, window=4, into=buf)
    finally:
        fake.stop = True
        fake.join()
    assert out is buf and bytes(buf[:SECTORS * 512]) == DISK and buf[-10:] == b"\0" * 10


def test_lost_request_is_sent_again_with_a_new_tag(pair):
    fake = serve(pair[1], batch=4, drop_lba=8)
    try:
        got = _window.read_windowed(client_on(pair[0], timeout=0.3), target(), 0, 16, window=4)
    finally:
        fake.stop = True
        fake.join()
    assert bytes(got) == DISK[:16 * 512]
    tries = [r["tag"] for r in fake.requests if r["lba"] == 8]
    assert len(tries) == 2 and tries[0] != tries[1]


def test_no_reply_raises_after_the_retries(pair):
    with pytest.raises(_protocol.AoEError, match=r"no AoE reply on fake0 for READ at LBA 0 after 2 tries"):
        _window.read_windowed(client_on(pair[0], timeout=0.05, retries=1), target(), 0, 4, window=2)


@pytest.mark.parametrize("kw, message", [({"status": 0x41}, "ATA status 0x41 error 0x04 \\(ABRT\\)"),
                                         ({"aoe_error": 3}, "AoE error 3: device unavailable")])
def test_error_replies_raise(pair, kw, message):
    fake = serve(pair[1], **kw)
    try:
        with pytest.raises(_protocol.AoEError, match=message):
            _window.read_windowed(client_on(pair[0]), target(), 0, 4, window=2)
    finally:
        fake.stop = True
        fake.join()


def test_small_buffer_is_refused(pair):
    with pytest.raises(ValueError, match="smaller than 4 sectors"):
        _window.read_windowed(client_on(pair[0]), target(), 0, 4, into=bytearray(100))
