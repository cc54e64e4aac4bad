# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who talks AoE to this host: capture ATA-over-Ethernet frames (EtherType 0x88A2) on one
interface for a few seconds and print one JSON object: for each (source MAC, shelf.slot) of a
request (response flag clear), the number of frames. Run on a SAN host while a guest reads or
writes its AoE root; playbooks/verify_guests.yml uses it to prove which MAC uses which export.

usage: sanboot-aoe-clients.py INTERFACE SECONDS [READY_FILE [UNTIL]]

READY_FILE is created once the socket listens (the seconds count from then) and removed at the end:
a caller that starts the capture in the background waits for it before it makes the guest read.
UNTIL ("<mac> e<shelf>.<slot>", lower case) ends the capture as soon as that request is seen, so
SECONDS can be a generous bound: the guest's read comes one SSH round trip after the capture
listens, which took more than 5 s on a loaded TCG host (a fresh make lab failed so).
"""
import json
import os
import socket
import struct
import sys
import time

ETH_P_AOE = 0x88A2


def main():
    ifname, seconds = sys.argv[1], float(sys.argv[2])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_AOE))
    sock.bind((ifname, 0))
    sock.settimeout(0.2)
    ready = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    until = sys.argv[4] if len(sys.argv) > 4 else None
    if ready:
        with open(ready, "w") as stamp:
            stamp.write("%d\n" % os.getpid())
    seen = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame = sock.recv(2048)
        except socket.timeout:
            continue
        if len(frame) < 24:
            continue
        # AoE header after the 14-byte Ethernet header: ver/flags, error, major (shelf), minor (slot)
        flags, _err, shelf, slot = struct.unpack("!BBHB", frame[14:19])
        if flags & 0x08:  # response flag: the target's answer, not a client's request
            continue
        key = "%s e%d.%d" % (":".join("%02x" % b for b in frame[6:12]), shelf, slot)
        seen[key] = seen.get(key, 0) + 1
        if key == until:
            break
    if ready:
        os.unlink(ready)
    print(json.dumps({"interface": ifname, "seconds": seconds, "requests": seen}, sort_keys=True))


if __name__ == "__main__":
    main()
