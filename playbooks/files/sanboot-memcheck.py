# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest memory integrity across live migrations (runs in the guest; Python 3 stdlib only).

``serve SOCKET MIB [SECONDS]`` maps MIB MiB of anonymous memory, fills every 4 KiB page with a
pattern made of its index and a generation number, and keeps rewriting random pages with the
next generation (so the buffer is dirty while a migration runs) until SECONDS have passed (600)
or ``stop`` is asked.  It answers on a unix socket:

- ``verify``: every page written so far is compared with what it must hold; the answer is JSON
  ``{"ok", "pages", "checked", "bad": [{"page", "pfn", "offset", "found", "expected"}]}``
  (at most 16 bad pages listed, ``bad_count`` counts all; ``pfn`` is the guest-physical frame
  from /proc/self/pagemap, so a bad page can be looked up in the guest's memory map);
- ``stats``: pages, filled, rewrites; ``stop``: ends the process.

``ask SOCKET WORD`` sends one request and prints the answer.  The process writes its PID to
SOCKET.pid; the caller stops it by that PID or with ``stop``.
"""

import ctypes
import json
import mmap
import os
import random
import select
import socket
import struct
import sys
import time

PAGE = 4096
LIMIT = 16


def pattern(index, generation):
    return struct.pack("<QQ", index ^ 0x5A4E424F4F54, generation) * (PAGE // 16)


class Buffer(object):
    def __init__(self, mib):
        self.pages = mib * 1024 * 1024 // PAGE
        self.mem = mmap.mmap(-1, self.pages * PAGE)
        self.gens = [0] * self.pages
        self.filled, self.rewrites = 0, 0
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))

    def write(self, index):
        gen = self.gens[index] + 1
        self.mem[index * PAGE:(index + 1) * PAGE] = pattern(index, gen)
        self.gens[index] = gen

    def step(self, count):
        """Fill the next pages, then (once full) rewrite random ones."""
        for _step in range(count):
            if self.filled < self.pages:
                self.write(self.filled)
                self.filled += 1
            else:
                self.write(random.randrange(self.pages))
                self.rewrites += 1

    def pfn(self, index):
        try:
            with open("/proc/self/pagemap", "rb") as f:
                f.seek(((self.base // PAGE) + index) * 8)
                entry = struct.unpack("<Q", f.read(8))[0]
        except (OSError, struct.error):
            return None
        return entry & ((1 << 55) - 1) if entry >> 63 else None

    def verify(self):
        bad, count = [], 0
        for index in range(self.filled):
            want = pattern(index, self.gens[index])
            if self.mem[index * PAGE:(index + 1) * PAGE] != want:
                count += 1
                if len(bad) < LIMIT:
                    have = self.mem[index * PAGE:(index + 1) * PAGE]
                    off = next(i for i in range(PAGE) if have[i] != want[i])
                    off -= off % 16
                    bad.append({"page": index, "pfn": self.pfn(index), "offset": off,
                                "found": have[off:off + 16].hex(), "expected": want[off:off + 16].hex()})
        return {"ok": count == 0, "pages": self.pages, "checked": self.filled,
                "bad_count": count, "bad": bad}


def serve(path, mib, seconds):
    buf = Buffer(mib)
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    with open(path + ".pid", "w") as f:
        f.write("%d\n" % os.getpid())
    end = time.time() + seconds
    try:
        while time.time() < end:
            if not select.select([server], [], [], 0.002)[0]:
                buf.step(16 if buf.filled >= buf.pages else 1024)
                continue
            conn = server.accept()[0]
            with conn:
                conn.settimeout(5)
                word = conn.recv(64).decode("ascii", "replace").strip()
                if word == "verify":
                    answer = buf.verify()
                elif word == "stats":
                    answer = {"pages": buf.pages, "filled": buf.filled, "rewrites": buf.rewrites}
                else:
                    answer = {"stopped": True}
                conn.sendall(json.dumps(answer).encode("ascii") + b"\n")
                if word == "stop":
                    break
    finally:
        for name in (path, path + ".pid"):
            if os.path.exists(name):
                os.unlink(name)


def ask(path, word):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(60)
    conn.connect(path)
    conn.sendall(word.encode("ascii") + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    sys.stdout.write(data.decode("ascii"))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 600.0)
    elif len(sys.argv) == 4 and sys.argv[1] == "ask":
        sys.exit(ask(sys.argv[2], sys.argv[3]))
    else:
        sys.exit("usage: sanboot-memcheck.py serve SOCKET MIB [SECONDS] | ask SOCKET verify|stats|stop")
