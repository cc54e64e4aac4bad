# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pipelined AoE reads: several tagged ATA READ requests in flight (private).

``_protocol.AoEClient`` waits for each reply before it sends the next request, so one round trip
per frame bounds its throughput.  :func:`read_windowed` reuses an open client (its socket, MAC,
MTU, timeout, retries and tags) and keeps up to ``window`` requests outstanding, never more than
the target's advertised Buffer Count ("the maximum number of outstanding messages the server can
queue", AoE spec r11 §3.2; vblade ``-b``).  Replies are matched by tag (any order); a request
whose reply has not come after ``client.timeout`` seconds is sent again with a fresh tag, at most
``client.retries`` times, as the one-in-flight client does.  The client's API is unchanged.
"""

from __future__ import annotations

import collections
import select
import socket
import struct
import time

from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol

SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23        # Linux 4.20+: our own requests are not looped back to us
_COMMON = struct.Struct("!BBHBBI")
_ATA = struct.Struct("!BBBB6s2x")
_ETHERTYPE = struct.pack("!H", _protocol.ETH_P_AOE)


def _tune_socket(sock, window, mtu):
    """Skip our own outgoing frames and make room for ``window`` replies (best effort)."""
    for level, name, value in ((SOL_PACKET, PACKET_IGNORE_OUTGOING, 1),
                               (socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * window * (mtu + 64))):
        try:
            sock.setsockopt(level, name, value)
        except OSError:
            pass


def effective_window(target, window):
    """``window`` capped at the target's Query Config buffer count (when it gives one), >= 1."""
    limit = int(target.get("buffer_count") or 0)
    return max(1, min(int(window), limit) if limit else int(window))


def read_windowed(client, target, lba, count, window=16, into=None):
    """Read ``count`` sectors from ``lba`` of ``target`` with up to ``window`` requests in flight.

    ``client``: an open ``AoEClient`` (or anything with ``sock``, ``mac``, ``mtu``, ``timeout``,
    ``retries``, ``next_tag()`` and ``interface``); ``target``: a Query Config reply dict.
    ``into``: a writable buffer of at least ``count * 512`` bytes to fill (returned as is);
    without it a new ``bytearray`` is returned.  Raises ``AoEError`` on an AoE error reply, an
    ATA error status, a short reply or a request unanswered after its retries.
    """
    size = count * _protocol.SECTOR_SIZE
    buf = bytearray(size) if into is None else into
    if len(buf) < size:
        raise ValueError("buffer of %d bytes is smaller than %d sectors" % (len(buf), count))
    view = memoryview(buf)
    step = _protocol.max_sectors(client.mtu, target.get("sector_count", 0))
    window = effective_window(target, window)
    dst, src = _protocol.mac_to_bytes(target["src"]), _protocol.mac_to_bytes(client.mac)
    shelf, slot = target["shelf"], target["slot"]
    sock, timeout = client.sock, float(client.timeout)
    _tune_socket(sock, window, client.mtu)
    todo = collections.deque((at, min(step, lba + count - at)) for at in range(lba, lba + count, step))
    inflight = collections.OrderedDict()          # tag -> [lba, sectors, deadline, tries]

    def send(at, n, tries):
        tag = client.next_tag()
        sock.send(_protocol.pack_ata(dst, src, shelf, slot, tag, _protocol.ATA_READ_EXT, at, n))
        inflight[tag] = [at, n, time.monotonic() + timeout, tries]

    while todo or inflight:
        while todo and len(inflight) < window:
            at, n = todo.popleft()
            send(at, n, 0)
        oldest_tag = next(iter(inflight))
        left = inflight[oldest_tag][2] - time.monotonic()
        if left > 0 and select.select([sock], [], [], left)[0]:
            _take(sock.recv(65536), inflight, shelf, slot, view, lba)
            continue
        for tag in [t for t, req in inflight.items() if req[2] <= time.monotonic()]:
            at, n, _deadline, tries = inflight.pop(tag)
            if tries >= client.retries:
                raise _protocol.AoEError("no AoE reply on %s for READ at LBA %d after %d tries of %.1f s"
                                         % (client.interface, at, tries + 1, timeout))
            send(at, n, tries + 1)
    return buf


def _take(frame, inflight, shelf, slot, view, base):
    """Store the data of ``frame`` if it answers an outstanding request; ignore anything else."""
    if len(frame) < _protocol.ATA_HLEN or frame[12:14] != _ETHERTYPE:
        return
    verflags, error, r_shelf, r_slot, command, tag = _COMMON.unpack_from(frame, _protocol.ETH_HLEN)
    if (not verflags & _protocol.FLAG_RESPONSE or tag not in inflight or command != _protocol.CMD_ATA
            or r_shelf != shelf or r_slot != slot):
        return
    at, n = inflight[tag][0], inflight[tag][1]
    where = "e%d.%d READ at LBA %d" % (shelf, slot, at)
    if verflags & _protocol.FLAG_ERROR:
        raise _protocol.AoEError("%s: AoE error %d: %s" % (where, error, _protocol.decode_aoe_error(error)))
    _aflags, ata_error, _count, status, _lba = _ATA.unpack_from(frame, _protocol.AOE_HLEN)
    problem = _protocol.decode_ata_status(status, ata_error)
    if problem:
        raise _protocol.AoEError("%s: %s" % (where, problem))
    nbytes = n * _protocol.SECTOR_SIZE
    if len(frame) - _protocol.ATA_HLEN < nbytes:
        raise _protocol.AoEError("short read at LBA %d: %d bytes for %d sectors"
                                 % (at, len(frame) - _protocol.ATA_HLEN, n))
    start = (at - base) * _protocol.SECTOR_SIZE
    view[start:start + nbytes] = frame[_protocol.ATA_HLEN:_protocol.ATA_HLEN + nbytes]
    del inflight[tag]
