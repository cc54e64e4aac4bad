# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Announce a migrating guest from the destination host when the source pauses (private).

Why: QEMU announces a migrated guest (RARP frames from the guest's MAC, so that every switch
learns where it lives now) when the destination *resumes*.  Frames sent to the guest between
the source's pause and that moment still go to the source, wait in its tap and die with it:
at 100 ms pings about one move in three lost an echo request.  Asking the destination's QEMU
to announce earlier does not help: its main loop is busy loading the last pages and answers
only at the end (measured: 30-44 ms after the pause, about the whole downtime).

``announce: at_switchover`` lets the destination *host* do it, with the kernel's bridge:

1. before the migration, a helper starts on the destination over ssh (``HELPER``, Python
   stdlib, run with ``python3 -c``);
2. once the incoming domain exists there, the module gives it each NIC's MAC, tap and bridge
   (from the destination's live domain XML); the helper pins the MAC to the tap in that
   bridge (``bridge fdb replace MAC dev TAP master static sticky``, so that the source's own
   frames cannot move it) and opens a raw socket on the bridge;
3. when libvirt reports the source paused for the switchover (lifecycle event SUSPENDED,
   detail MIGRATED), the module says ``go`` and the helper sends a RARP frame per MAC (the
   frame QEMU sends, at 0, 10 and 30 ms) through the bridge: the network now delivers the
   guest's frames to the destination's tap, which queues them until QEMU reads them;
4. at the end the pinned entries are removed (the bridge learns the guest's port again
   from its first frame).  If the migration failed after ``go``, the source re-announces the
   guest the same way (``bridge`` of the source) so that the switches find it back.

Nothing here touches the guest or QEMU.  ``report`` says when the frames went out, in
milliseconds after the pause was seen.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

# The destination's side. Lines in: "arm MAC TAP BRIDGE", "go", "end" (or EOF).
# Lines out: "armed MAC rc", "sent EPOCH", "error TEXT". Runs as root (bridge fdb, AF_PACKET).
HELPER = r'''
import socket, struct, subprocess, sys, time
nics = []
def fdb(op, mac, tap, *extra):
    return subprocess.call(["bridge", "fdb", op, mac, "dev", tap, "master"] + list(extra),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rarp(mac):
    hw = bytes.fromhex(mac.replace(":", ""))
    body = struct.pack("!HHHBBH", 0x8035, 1, 0x0800, 6, 4, 3) + hw + bytes(4) + hw + bytes(4)
    return (b"\xff" * 6 + hw + body).ljust(60, b"\0")
try:
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["arm"] and len(words) == 4:
            mac, tap, bridge = words[1:]
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            sock.bind((bridge, 0))
            nics.append((mac, tap, sock, rarp(mac)))
            print("armed %s %d" % (mac, fdb("replace", mac, tap, "static", "sticky")), flush=True)
        elif words == ["go"] and not nics:
            print("error nothing was armed when the source paused", flush=True)
        elif words == ["go"]:
            for delay in (0, 0.01, 0.02):
                time.sleep(delay)
                for _mac, _tap, sock, frame in nics:
                    sock.send(frame)
                if delay == 0:
                    print("sent %.6f" % time.time(), flush=True)
        else:
            break
except Exception as exc:
    print("error %s" % exc, flush=True)
finally:
    for mac, tap, _sock, _frame in nics:
        fdb("del", mac, tap)
'''


def bridge_nics(domain_xml):
    """``[(mac, tap, bridge)]`` of a domain's NICs on a Linux bridge (live XML).

    ``<interface type='bridge'>``, and ``type='network'`` whose live ``<source>`` names the
    network's bridge.  ``tap`` is None while the NIC has no ``<target dev>`` yet (an incoming
    domain before libvirt created its taps, or an inactive definition).
    """
    out = []
    for iface in ET.fromstring(domain_xml).findall("devices/interface"):
        mac, tap, source = iface.find("mac"), iface.find("target"), iface.find("source")
        if iface.get("type") in ("bridge", "network") and mac is not None \
                and source is not None and source.get("bridge"):
            out.append((mac.get("address"), tap.get("dev") if tap is not None else None,
                        source.get("bridge")))
    return out


class SwitchoverAnnouncer(object):
    """The module's side: ``start()``, ``arm(nics)``, ``go()`` (from the event), ``finish()``."""

    def __init__(self, remote):
        # argv that runs its last argument, a shell command line, on the destination
        # (``ssh ... root@HOST``)
        self.remote = list(remote)
        self.proc, self.lines, self.go_at = None, [], None
        self.lock = threading.Lock()
        self.report = {"mode": "at_switchover", "announced": False}

    def start(self):
        # a long-lived, line-by-line conversation: not a job for the one-shot command runner
        self.proc = subprocess.Popen(
            self.remote + ["python3 -c %s" % shlex.quote(HELPER)], env=dict(os.environ, LC_ALL="C"),
            bufsize=0,  # unbuffered: select() then sees every line that is not read yet
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def _send(self, text):
        with self.lock:  # go() comes from libvirt's event thread
            try:
                self.proc.stdin.write(text.encode("utf-8") + b"\n")
                self.proc.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    def _read(self, timeout):
        """The next line (None: none within ``timeout`` s, or the helper ended)."""
        ready = select.select([self.proc.stdout], [], [], max(timeout, 0))[0]
        data = self.proc.stdout.readline() if ready else b""
        if not data:
            return None
        line = data.decode("utf-8", "replace").strip()
        self.lines.append(line)
        return line

    def arm(self, nics, wait=10.0):
        """Pin each ``(mac, tap, bridge)`` on the destination; True when all are pinned."""
        armed = 0
        for mac, tap, bridge in nics:
            if not self._send("arm %s %s %s" % (mac, tap, bridge)):
                break
            deadline = time.time() + wait
            line = ""  # ssh may say something first: wait for the helper's answer
            while not line.startswith(("armed ", "error ")) and time.time() < deadline:
                line = self._read(deadline - time.time())
                if line is None:
                    break
            if line == "armed %s 0" % mac:
                armed += 1
            elif (line or "").startswith("armed "):
                self.report.setdefault("errors", []).append(
                    "could not pin %s to %s in %s (bridge fdb rc %s); QEMU's own announcement "
                    "applies" % (mac, tap, bridge, line.split()[-1]))
        self.report["armed"] = "%d of %d NICs" % (armed, len(nics))
        return armed == len(nics) > 0

    def go(self):
        """The source paused: announce now (called from libvirt's event thread)."""
        if self.go_at is None:
            self.go_at = time.time()
            self._send("go")

    def finish(self):
        """End the helper (its pinned entries go with it); the report."""
        if self.proc is None:
            return self.report
        self._send("end")
        try:
            out = self.proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out = self.proc.communicate()[0]
        self.lines.extend(line.strip() for line in out.decode("utf-8", "replace").split("\n"))
        for line in self.lines:
            word, _sep, rest = line.strip().partition(" ")
            if word == "sent" and self.go_at is not None:
                self.report.update(announced=True, announced_after_pause_ms=round(
                    (float(rest) - self.go_at) * 1000.0, 1))
            elif word == "error" or (word and word not in ("armed", "sent")):
                self.report.setdefault("errors", []).append(line.strip())
        if self.go_at is None:
            self.report.setdefault("errors", []).append("the source's pause was not seen")
        self.proc = None
        return self.report


def reannounce(runner, nics):
    """Send the RARP frames on this host (the guest stayed here after ``go``)."""
    argv = ["python3", "-c", HELPER]
    data = "".join("arm %s %s %s\n" % nic for nic in nics) + "go\nend\n"
    rc, out, _err = runner(argv, check=False, data=data)
    return rc == 0 and "sent " in out
