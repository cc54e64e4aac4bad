# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backing stores: one identity rule and one question to every exporter on this host (private).

Common layer: imports nothing from the domain modules (``_tgt``, ``_vblade``, ``_lvm``).

* :func:`store_id` -- the identity of a store: ``(st_dev, st_ino)`` of the file ``os.stat``
  resolves (so a symlink or a hard link to a store IS that store); for a block device its device
  number (``("blk", st_rdev)``: two device nodes of one disk are one store).  A path that does
  not exist has no identity (None).  Every "same store?" question of the collection is answered
  by comparing these (:func:`store_key` for stores of a request that may not exist yet).
* :func:`exports_of` -- who exports a store: every tgtd answering on a control socket
  ``/var/run/tgtd/socket.N`` (tgt 1.0.85 creates ``socket.N`` and ``socket.N.lock``, locked while
  it runs; a socket nobody serves is left by a killed tgtd and skipped; never probed by
  connecting, see :func:`_listening`), every running vblade (from
  ``/proc/*/cmdline``, its file seen through ``/proc/PID/root``).  When it cannot tell (a live
  socket whose tgtadm fails, no tgtadm while sockets exist, an unreadable /proc, a store or a
  working directory of a running vblade that cannot be looked at) it raises :class:`StoreError`:
  a store check that silently finds nothing would let two writers in.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import struct

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

TGTD_RUN_DIR = "/var/run/tgtd"
_SOCKET = re.compile(r"^socket\.(\d+)$")
PROC_NET_UNIX = "/proc/net/unix"
# struct flock: l_type, l_whence (short), l_start, l_len (off_t), l_pid (pid_t), padding
_FLOCK = "hhqqi4x"
# errors that mean "there is nothing there" (the file is gone, the process has ended)
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.ESRCH, errno.ELOOP, errno.ENAMETOOLONG)


class StoreError(SanbootError):
    """The exporters could not be asked: the answer would be a guess."""


def store_id(path, root="", strict=False):
    """Identity of the store at ``path`` (seen under ``root``, e.g. ``/proc/PID/root``): ``("blk",
    st_rdev)`` for a block device, else ``(st_dev, st_ino)``; None when it does not exist.  With
    ``strict`` a path that exists but cannot be looked at (EACCES, EIO, ...) raises StoreError."""
    if not path:
        return None
    try:
        st = os.stat(root + path if root else path)
    except ValueError:
        return None
    except OSError as e:
        if strict and e.errno not in _ABSENT:
            raise StoreError("cannot identify the store %s%s: %s"
                             % (path, " (seen through %s)" % root if root else "", e.strerror))
        return None
    if stat.S_ISBLK(st.st_mode):
        return ("blk", st.st_rdev)
    return (st.st_dev, st.st_ino)


def store_key(path):
    """:func:`store_id` of ``path``, or ``("path", its resolved path)`` when it does not exist
    (yet): two uses of one store in a request compare equal under either."""
    return store_id(path) or ("path", os.path.realpath(path))


def _readlink(path, strict):
    try:
        return os.readlink(path)
    except OSError as e:
        if strict and e.errno not in _ABSENT:
            raise StoreError("cannot read %s: %s" % (path, e.strerror))
        return None


# ---------------------------------------------------------------- tgtd
def tgtd_control_ports(run_dir=TGTD_RUN_DIR):
    """Control ports of the tgtds that listen on ``run_dir/socket.N`` (sorted)."""
    try:
        names = os.listdir(run_dir)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return []
        raise StoreError("cannot list tgtd control sockets in %s: %s" % (run_dir, e))
    ports = []
    for name in names:
        m = _SOCKET.match(name)
        if m and _listening(os.path.join(run_dir, name)):
            ports.append(int(m.group(1)))
    return sorted(ports)


def tgtd_alive(port, run_dir=TGTD_RUN_DIR):
    """Whether the tgtd of control port ``port`` still listens (asked as :func:`tgtd_control_ports` does)."""
    return _listening(os.path.join(run_dir, "socket.%d" % port))


def _listening(path, net_unix=PROC_NET_UNIX):
    """Whether a tgtd serves the control socket ``path``, asked WITHOUT connecting to it.

    tgt 1.0.85 leaks a management connection that closes before sending a whole request when its
    main thread's errno happens to be EAGAIN (a target serving I/O): ``mtask_recv_send_handler``
    takes read() = 0 for "try again" and polls the dead socket forever at 80-100 % CPU (one leak
    per probe; reproduced with 2,000 connects during qemu-io reads).  So the probe never connects:
    a live tgtd holds a POSIX lock on ``socket.N.lock`` (``F_GETLK`` reports it; a killed tgtd's
    lock is gone with it), and without a lock file (another tgt version) the socket must be a
    listening entry of ``/proc/net/unix``.
    """
    try:
        fd = os.open(path + ".lock", os.O_RDONLY)
    except OSError as e:
        if e.errno not in _ABSENT:
            raise StoreError("cannot open %s.lock: %s" % (path, e))
        return _unix_listening(path, net_unix)
    try:
        flock = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        l_type = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, flock))[0]
    except OSError as e:
        raise StoreError("cannot tell whether a tgtd holds %s.lock: %s" % (path, e))
    finally:
        os.close(fd)
    return l_type != fcntl.F_UNLCK and stat.S_ISSOCK(_lstat_mode(path))


def _lstat_mode(path):
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _unix_listening(path, net_unix):
    """``path`` is bound by a listening unix socket of this network namespace."""
    try:
        with open(net_unix) as f:
            lines = f.read().splitlines()[1:]
    except OSError as e:
        raise StoreError("cannot read %s to tell whether a tgtd listens on %s: %s" % (net_unix, path, e))
    names = {path, os.path.realpath(path)}
    for line in lines:
        cols = line.split(None, 7)
        # Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = __SO_ACCEPTCON
        if len(cols) == 8 and cols[7] in names and int(cols[3], 16) & 0x10000:
            return True
    return False


def parse_tgt_luns(text):
    """``[dict(tid, target, lun, path, readonly)]`` from ``tgtadm --op show --mode target``
    (LUN 0, the controller, has no store)."""
    out, target, tid, lun = [], None, None, None
    for raw in text.splitlines():
        m = re.match(r"^Target (\d+): (\S+)\s*$", raw)
        if m:
            tid, target, lun = int(m.group(1)), m.group(2), None
            continue
        key, sep, val = raw.strip().partition(":")
        if not sep or target is None:
            continue
        val = val.strip()
        if key == "LUN":
            lun = dict(tid=tid, target=target, lun=int(val), path=None, readonly=False)
            if lun["lun"] != 0:
                out.append(lun)
        elif lun is not None and key == "Readonly":
            lun["readonly"] = val == "Yes"
        elif lun is not None and key == "Backing store path":
            lun["path"] = None if val == "None" else val
    return out


def tgt_exports(run, tgtadm, ports, alive=None):
    """Every LUN of the tgtds on ``ports``: dicts with ``kind="tgt"``, ``control_port``.
    ``run(argv) -> (rc, stdout, stderr)``; a failing tgtadm raises StoreError, unless
    ``alive(port)`` then says that this tgtd stopped meanwhile (it serves no store any more)."""
    out = []
    for port in ports:
        argv = [tgtadm, "-C", str(port), "--lld", "iscsi", "--op", "show", "--mode", "target"]
        rc, text, err = run(argv)
        if rc != 0:
            if alive is not None and not alive(port):
                continue
            raise StoreError("cannot read the backing stores of the tgtd on control port %d "
                             "(%s: rc %s, %s)" % (port, " ".join(argv), rc, (err or text).strip()))
        for lun in parse_tgt_luns(text):
            lun.update(kind="tgt", control_port=port, id=store_id(lun["path"], strict=True))
            out.append(lun)
    return out


# ---------------------------------------------------------------- vblade
def vblade_getopt(argv):
    """``(options, operands)`` of a vblade command line as glibc getopt reads vblade 25's
    ``b:dsrm:o:l:`` (grouped flags, attached or separate values, options after operands, ``--``
    ends the options): ``options`` is a list of ``(letter, value or None)``.  None when
    ``argv`` is not vblade's or an option is unknown or lacks its value."""
    if not argv or os.path.basename(argv[0]) != "vblade":
        return None
    options, operands, args, i = [], [], list(argv[1:]), 0
    while i < len(args):
        arg, i = args[i], i + 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            continue
        for j, c in enumerate(arg[1:], 1):
            if c in "dsr":
                options.append((c, None))
            elif c in "bmol":
                value = arg[j + 1:]
                if not value:
                    if i >= len(args):
                        return None
                    value, i = args[i], i + 1
                options.append((c, value))
                break
            else:
                return None
    return options, operands


def parse_vblade_argv(argv):
    """``dict(shelf, slot, interface, path, readonly)`` of a vblade command line, or None."""
    parsed = vblade_getopt(argv)
    if parsed is None:
        return None
    options, operands = parsed
    if len(operands) != 4 or not (operands[0].isdigit() and operands[1].isdigit()):
        return None
    return dict(shelf=int(operands[0]), slot=int(operands[1]), interface=operands[2],
                path=operands[3], readonly=any(c == "r" for c, _v in options))


def vblade_processes(proc="/proc"):
    """``(pid, /proc/PID, argv, parsed)`` of every running vblade of the host (every network
    namespace); ``parsed`` as :func:`parse_vblade_argv`."""
    try:
        entries = os.listdir(proc)
    except OSError as e:
        raise StoreError("cannot list processes in %s: %s" % (proc, e))
    for entry in entries:
        if not entry.isdigit():
            continue
        base = os.path.join(proc, entry)
        try:
            with open(os.path.join(base, "cmdline"), "rb") as f:
                raw = f.read()
        except (IOError, OSError) as e:
            if e.errno in _ABSENT:
                continue        # the process ended meanwhile
            raise StoreError("cannot read the command line of process %s: %s" % (entry, e.strerror))
        argv = [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0")[:-1]]
        parsed = parse_vblade_argv(argv)
        if parsed is not None:
            yield int(entry), base, argv, parsed


def vblade_exports(proc="/proc"):
    """Every running vblade of the host (every network namespace): dicts with ``kind="vblade"``,
    ``pid``, ``argv``, ``netns`` (the target of ``/proc/PID/ns/net``), ``path`` (a relative one
    resolved against the process's cwd) and ``id`` (the store as that process sees it, through
    ``/proc/PID/root``).  A process that ended meanwhile is left out; one whose cwd or store
    cannot be looked at raises StoreError."""
    out = []
    for pid, base, argv, parsed in vblade_processes(proc):
        path = parsed["path"]
        if not path.startswith("/"):
            cwd = _readlink(os.path.join(base, "cwd"), strict=True)
            if cwd is None:
                continue            # the process ended meanwhile
            path = os.path.join(cwd, path)
        parsed.update(kind="vblade", pid=pid, path=path, argv=argv,
                      netns=_readlink(os.path.join(base, "ns", "net"), strict=False),
                      id=store_id(path, os.path.join(base, "root"), strict=True))
        out.append(parsed)
    return sorted(out, key=lambda e: e["pid"])


# ---------------------------------------------------------------- the question
def all_exports(run, tgtadm=None, run_dir=TGTD_RUN_DIR, proc="/proc", skip_ports=()):
    """Every export of every exporter on this host (tgtd control ports in ``skip_ports`` are
    left out: the caller reads those itself).  ``tgtadm``: its path (None: not installed)."""
    ports = [p for p in tgtd_control_ports(run_dir) if p not in skip_ports]
    if ports and not tgtadm:
        raise StoreError("tgtd listens on control port(s) %s but tgtadm is not installed: "
                         "cannot read its backing stores" % ", ".join(map(str, ports)))
    return tgt_exports(run, tgtadm, ports, lambda port: tgtd_alive(port, run_dir)) + vblade_exports(proc)


def exports_of(path, run, tgtadm=None, run_dir=TGTD_RUN_DIR, proc="/proc", skip_ports=(),
               exports=None):
    """The exports (see :func:`all_exports`, or the given ``exports``) whose store is the store
    at ``path``; [] when ``path`` does not exist."""
    want = store_id(path)
    if want is None:
        return []
    if exports is None:
        exports = all_exports(run, tgtadm, run_dir, proc, skip_ports)
    return [e for e in exports if e.get("id") == want]


def describe(export):
    """One line naming an export of :func:`all_exports`."""
    if export["kind"] == "tgt":
        return "iSCSI target %s LUN %d (tgtd control port %d%s)" % (
            export["target"], export["lun"], export["control_port"],
            ", read-only" if export["readonly"] else "")
    return "AoE export e%d.%d on %s (vblade pid %d%s)" % (
        export["shelf"], export["slot"], export["interface"], export["pid"],
        ", read-only" if export["readonly"] else "")
