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
   stdlib, run with ``python3 -c``) and is given each bridged NIC's MAC (from the source's
   domain XML);
2. the helper itself watches the destination for the incoming domain's taps: libvirt gives a
   tap the guest's MAC with the first byte replaced by ``fe`` (``fa`` when it already was
   ``fe``; ``virNetDevTapCreateInBridgePort``), so the interface with that address and a
   bridge master is the NIC's new port. It pins the MAC to the tap in that bridge (``bridge
   fdb replace MAC dev TAP master static sticky``, so that the source's own frames cannot move
   it) and opens a raw socket on the bridge. (Until issue 13 the module asked the destination's
   libvirt for the incoming domain's XML instead; libvirt 11 answers that only after the
   incoming job's setup, ~0.9 s into a 1.1 s move, after the pause: nothing was ever armed.)
3. when libvirt reports the source paused for the switchover (lifecycle event SUSPENDED,
   detail MIGRATED), the module says ``go`` - one UDP datagram with a random token to a port
   the helper opened, and the same over ssh as the fallback (the ssh pipe alone took 1-10 ms
   under load, and the moves that lost a ping were those with the slowest ``go``) - and the
   helper sends a RARP frame per MAC (the frame QEMU sends, at 0, 10 and 30 ms) through the
   bridge: the network now delivers the guest's frames to the destination's tap, which
   queues them until QEMU reads them;
4. at the end the pinned entries are removed (the bridge learns the guest's port again
   from its first frame).  If the migration failed after ``go``, the source re-announces the
   guest the same way (``bridge`` of the source) so that the switches find it back.

Nothing here touches the guest or QEMU.  ``report`` says when the frames went out, in
milliseconds after the pause was seen.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

# The destination's side. Lines in: "watch MAC...", "udp TOKEN 4|6 ADDRESS", "go", "end" (or EOF); a
# datagram "go TOKEN" on its UDP port. Lines out: "sched fifo|niceN|normal", "udp PORT", "ready",
# "armed MAC TAP BRIDGE rc", "sent EPOCH udp|ssh", "error TEXT". Runs as root (bridge fdb, AF_PACKET).
HELPER = r'''
import os, select, socket, struct, subprocess, time
SYS = "/sys/class/net/"
watch, nics = [], {}
def fdb(op, mac, tap, *extra):
    return subprocess.call(["bridge", "fdb", op, mac, "dev", tap, "master"] + list(extra),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rarp(mac):
    hw = bytes.fromhex(mac.replace(":", ""))
    body = struct.pack("!HHHBBH", 0x8035, 1, 0x0800, 6, 4, 3) + hw + bytes(4) + hw + bytes(4)
    return (b"\xff" * 6 + hw + body).ljust(60, b"\0")
def ports():
    found = {}
    for name in os.listdir(SYS):
        try:
            with open(SYS + name + "/address") as f:
                addr = f.read().strip()
            found[addr] = (name, os.path.basename(os.readlink(SYS + name + "/master")))
        except OSError:
            pass
    return found
def arm():
    if not [m for m in watch if m not in nics]:
        return
    found = ports()
    for mac in watch:
        tail = mac[2:]
        tapmac = ("fa" if mac[:2] == "fe" else "fe") + tail
        port = found.get(tapmac) or found.get(mac)
        if mac in nics or port is None:
            continue
        tap, bridge = port
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((bridge, 0))
        rc = fdb("replace", mac, tap, "static", "sticky")
        nics[mac] = (tap, sock, rarp(mac), rc == 0)
        print("armed %s %s %s %d" % (mac, tap, bridge, rc), flush=True)
def go(via):
    arm()
    armed = [n for n in nics.values() if n[3]]
    if not armed:
        print("error nothing was armed when the source paused", flush=True)
    for delay in (0, 0.01, 0.02) if armed else ():
        time.sleep(delay)
        for _tap, sock, frame, _ok in armed:
            sock.send(frame)
        if delay == 0:
            print("sent %.6f %s" % (time.time(), via), flush=True)
def sched():  # what HELPER_COMMAND got for us
    if os.sched_getscheduler(0) == os.SCHED_FIFO:
        return "fifo"
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    return "nice%d" % nice if nice else "normal"
print("sched %s" % sched(), flush=True)
buf, udp, token, gone = b"", None, None, False
try:
    while True:
        arm()
        wait = 0.005 if [m for m in watch if m not in nics] else None  # polling for taps
        ready = select.select([0] + ([udp] if udp else []), [], [], wait)[0]
        if udp in ready and udp.recv(64) == b"go " + token and not gone:
            gone = True
            go("udp")
        if 0 in ready:
            data = os.read(0, 4096)
            if not data:
                break
            buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.decode().split()
            if words[:1] == ["watch"]:
                watch.extend(m.lower() for m in words[1:] if m.lower() not in watch)
                print("ready", flush=True)
            elif words[:1] == ["udp"] and len(words) == 4:
                token = words[1].encode()
                udp = socket.socket(socket.AF_INET6 if words[2] == "6" else socket.AF_INET,
                                    socket.SOCK_DGRAM)
                try:  # only the address the source reaches us at
                    udp.bind((words[3], 0))
                except OSError:  # e.g. link-local: its scope here is not the source's
                    udp.bind(("", 0))
                print("udp %d" % udp.getsockname()[1], flush=True)
            elif words == ["go"]:
                if not gone:
                    gone = True
                    go("ssh")
            else:
                raise SystemExit(0)
except Exception as exc:
    print("error %s" % exc, flush=True)
finally:
    for mac, (tap, _sock, _frame, ok) in nics.items():
        if ok:
            fdb("del", mac, tap)
'''


# How the module starts HELPER on the destination (``sh -c`` over ssh): at SCHED_FIFO 1 where the
# kernel allows it, else nice -20 - the choice raise_priority makes for the module's own thread.
HELPER_COMMAND = ('if chrt -f 1 true 2>/dev/null; then p="chrt -f 1"; else p="nice -n -20"; fi; '
                  'exec $p python3 -c %s' % shlex.quote(HELPER))


def raise_priority():
    """Give the calling thread the CPU first when it wakes: ``fifo``, ``nice-20`` or ``normal``.

    The pause -> frame path is two wake-ups (the module's libvirt event thread, the helper);
    on a loaded host each waited for a busy CPU (measured 1-6 ms from the event to the frame,
    of a blind window of 6-8 ms). ``SCHED_FIFO`` priority 1 (the lowest real-time one) where
    the kernel allows it (not in a cgroup without real-time runtime, e.g. an LXC container on
    cgroup v1), else nice -20; the helper gets the same from HELPER_COMMAND. Both sleep until
    the event and end with the move; on Linux both calls with 0 change the calling thread only.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return "fifo"
    except (AttributeError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, -20)
            return "nice-20"
        except (AttributeError, OSError):
            return "normal"


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
    """The module's side: ``start(macs, host)``, ``go()`` (from the event), ``finish()``."""

    def __init__(self, remote):
        # argv that runs its last argument, a shell command line, on the destination
        # (``ssh ... root@HOST``)
        self.remote = list(remote)
        self.proc, self.reader, self.macs, self.go_at = None, None, [], None
        self.lines, self.udp, self.token = [], None, os.urandom(16).hex()
        self.ready, self.ended = threading.Event(), False
        self.lock = threading.Lock()
        self.report = {"mode": "at_switchover", "announced": False}

    def start(self, macs, host=None):
        """Start the helper and give it the MACs to watch for (it arms each by itself).

        ``host`` (the destination's address): ``go`` also travels as one UDP datagram to a port
        the helper opens there on that address only (with a random token), which skips the ssh
        hops of the ssh pipe (measured: 1-10 ms under load); the ssh line stays as the fallback.
        """
        self.macs = [mac.lower() for mac in macs]
        # a long-lived conversation: not a job for the one-shot command runner
        self.proc = subprocess.Popen(
            self.remote + [HELPER_COMMAND], env=dict(os.environ, LC_ALL="C"),
            bufsize=0, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read_lines)
        self.reader.daemon = True
        self.reader.start()
        family = None
        if host:
            try:
                family, _t, _p, _c, sockaddr = socket.getaddrinfo(host, 0, 0, socket.SOCK_DGRAM)[0]
                self.udp = (socket.socket(family, socket.SOCK_DGRAM), sockaddr)
            except OSError:
                self.udp = None
        if self.udp is not None:
            self._send("udp %s %s %s" % (self.token, 6 if family == socket.AF_INET6 else 4,
                                         self.udp[1][0].partition("%")[0]))
        return self._send("watch %s" % " ".join(self.macs))

    def wait_ready(self, timeout=5.0):
        """Wait (at most ``timeout`` s: an ssh login) until the helper watches; True if it does."""
        return self.ready.wait(timeout) and not self.ended

    def _read_lines(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            self.lines.append(line)
            word, _sep, rest = line.partition(" ")
            if word == "ready":
                self.ready.set()
            elif word == "udp" and rest.isdigit() and self.udp is not None:
                sock, sockaddr = self.udp[:2]  # the helper's port in the address (IPv6: + scope)
                self.udp = (sock, sockaddr, sockaddr[:1] + (int(rest),) + sockaddr[2:])
        self.ended = True  # the helper ended (or never started): nobody waits for "ready"
        self.ready.set()

    def _send(self, text):
        with self.lock:  # go() comes from libvirt's event thread
            try:
                self.proc.stdin.write(text.encode("utf-8") + b"\n")
                self.proc.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    def go(self):
        """The source paused: announce now (called from libvirt's event thread)."""
        if self.go_at is None:
            self.go_at = time.time()
            if self.udp is not None and len(self.udp) == 3:
                try:
                    self.udp[0].sendto(b"go " + self.token.encode(), self.udp[2])
                except OSError:
                    pass
            self._send("go")

    def finish(self):
        """End the helper (its pinned entries go with it); the report."""
        if self.proc is None:
            return self.report
        self._send("end")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        if self.udp is not None:
            self.udp[0].close()
        self.proc = None
        return parse_report(self.report, self.macs, self.go_at, list(self.lines))


def parse_report(report, macs, go_at, lines):
    """``report`` updated from the helper's ``lines`` (``go_at``: the pause, epoch seconds)."""
    armed = 0
    for line in lines:
        word, _sep, rest = line.strip().partition(" ")
        fields = rest.split()
        if word == "armed" and len(fields) == 4 and fields[3] == "0":
            armed += 1
            report.setdefault("taps", {})[fields[0]] = "%s in %s" % (fields[1], fields[2])
        elif word == "armed" and len(fields) == 4:
            report.setdefault("errors", []).append(
                "could not pin %s to %s in %s (bridge fdb rc %s); QEMU's own announcement "
                "applies" % tuple(fields))
        elif word == "sched":
            report.setdefault("priority", {})["helper"] = rest.strip()
        elif word == "sent" and go_at is not None:
            report.update(announced=True, announced_after_pause_ms=round(
                (float(fields[0]) - go_at) * 1000.0, 1))
            if len(fields) > 1:
                report["go_via"] = fields[1]
        elif word and word not in ("armed", "sent", "udp", "ready", "sched"):
            report.setdefault("errors", []).append(line.strip())
    report["armed"] = "%d of %d NICs" % (armed, len(macs))
    if go_at is None:
        report.setdefault("errors", []).append("the source's pause was not seen")
    return report


def reannounce(runner, macs):
    """Send the RARP frames on this host (the guest stayed here after ``go``)."""
    data = "watch %s\ngo\nend\n" % " ".join(macs)
    rc, out, _err = runner(["python3", "-c", HELPER], check=False, data=data)
    return rc == 0 and "sent " in out
