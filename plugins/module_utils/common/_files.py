# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files written safely (private, common layer): one atomic writer and root containment.

:func:`write_atomic` replaces a file the one way every module of the collection does it: a
temporary file is created next to the target with ``O_CREAT|O_EXCL|O_NOFOLLOW`` and its final
mode (a pre-planted file or symlink of that name is never opened, and a secret is never readable
by others, not even for a moment), written, ``fsync``'ed, renamed over the target (``rename(2)``
replaces a symlink itself, it does not follow it), and the directory is ``fsync``'ed; on any
failure the temporary file is removed.  When the umask took bits the caller asked for, they are
given back with ``fchmod`` on the open descriptor (the umask only ever removes bits, so the file
is never more open than asked).  :func:`write_new` creates a new file of a fresh name the same way
(a secret handed to a command as a file; the caller removes it).

``*_in(root, rel, ...)`` do the same below an image root: every directory of ``rel`` is opened
relative to its parent with ``O_NOFOLLOW|O_DIRECTORY`` (created, mode 0755, when missing and
asked to), and the last component must not be a symlink either, so no symlink planted in the
image -- absolute or ``..`` -- can lead a read, write or removal outside ``root``.
:class:`UnsafePath` names the offending path.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePath(SanbootError, ValueError):
    """A path that would leave its root through a symlink, or is not a plain file/directory."""


def _components(rel):
    parts = [p for p in str(rel).split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath("%s: '..' is not allowed in a path below the root" % rel)
    return parts


def open_dir(root, rel_dir, create=False, dir_mode=0o755):
    """Descriptor of the directory ``root/rel_dir`` reached without following any symlink below
    ``root``; None when a component is missing and ``create`` is false."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    walked = root.rstrip("/") or "/"
    try:
        for part in _components(rel_dir):
            walked = os.path.join(walked, part)
            try:
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT and create:
                    os.mkdir(part, dir_mode, dir_fd=fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                elif exc.errno == errno.ENOENT:
                    os.close(fd)
                    return None
                elif exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath("%s is a symbolic link or not a directory: refusing to follow "
                                     "it (it could lead outside %s)" % (walked, root))
                else:
                    raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lstat_at(dfd, name):
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _check_regular(st, shown):
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise UnsafePath("%s is %s: refusing to read or replace it" % (shown, kind))


def _create(dfd, prefix, mode, shown):
    """``(fd, name)`` of a new file ``prefix<random hex>`` in ``dfd``, created with
    ``O_CREAT|O_EXCL|O_NOFOLLOW`` and its final ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(100):
        name = prefix + os.urandom(6).hex()
        try:
            return os.open(name, flags, mode, dir_fd=dfd), name
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    raise OSError(errno.EEXIST, "no free temporary name next to %s" % shown)


def _fill(dfd, fd, name, data, mode, owner=None):
    """Write ``data`` to the new file ``fd`` (``name`` in ``dfd``), ``fsync`` and close it; on
    any failure the file is removed.  ``owner``: ``(uid, gid)`` set before any byte is written."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    try:
        try:
            if owner is not None:
                os.fchown(fd, owner[0], owner[1])   # before any byte is written
            if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
                os.fchmod(fd, mode)          # the umask took bits: give them back (never more)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _unlink_quietly(dfd, name)
        raise


def _unlink_quietly(dfd, name):
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError:
        pass


def _write_at(dfd, name, data, mode, shown, owner=None):
    fd, tmp = _create(dfd, ".%s.sanboot-" % name, mode, shown)
    _fill(dfd, fd, tmp, data, mode, owner)
    try:
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        _unlink_quietly(dfd, tmp)
        raise
    os.fsync(dfd)


def write_new(directory, prefix, data, mode=0o600):
    """Path of a new file ``directory/<prefix><random>`` holding ``data``, created like the
    temporary file of :func:`write_atomic` (``O_EXCL|O_NOFOLLOW``, ``mode`` from the start,
    ``fsync``, removed on failure); for a secret a command reads from a file.  ``directory``
    None: the system's temporary directory.  The caller removes the file."""
    d = directory or tempfile.gettempdir()
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd, name = _create(dfd, prefix, mode, d)
        _fill(dfd, fd, name, data, mode)
    finally:
        os.close(dfd)
    return os.path.join(d, name)


def write_atomic(path, data, mode=0o644, parents=False):
    """Replace ``path`` with ``data`` (str or bytes) of ``mode`` atomically (see the module doc).
    The directory must exist unless ``parents`` (then missing directories are created, mode
    0755 less the umask); a symlink at ``path`` is replaced, not followed."""
    d = os.path.dirname(path) or "."
    if parents and not os.path.isdir(d):
        os.makedirs(d, 0o755, exist_ok=True)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _write_at(dfd, os.path.basename(path), data, mode, path)
    finally:
        os.close(dfd)


def write_in(root, rel, data, mode=0o644, owner=None):
    """:func:`write_atomic` of ``root/rel``, contained in ``root`` (missing directories are
    created with mode 0755); UnsafePath when a component or the file is a symlink.  ``owner``:
    ``(uid, gid)`` given to the temporary file before it is written and renamed."""
    parts = _components(rel)
    shown = os.path.join(root, *parts)
    dfd = open_dir(root, "/".join(parts[:-1]), create=True)
    try:
        _check_regular(_lstat_at(dfd, parts[-1]), shown)
        _write_at(dfd, parts[-1], data, mode, shown, owner)
    finally:
        os.close(dfd)


def read_in(root, rel):
    """``(text, mode)`` of ``root/rel`` or ``(None, None)`` when it does not exist, read without
    following any symlink below ``root`` (UnsafePath when one is in the way)."""
    parts = _components(rel)
    shown = os.path.join(root, *parts)
    dfd = open_dir(root, "/".join(parts[:-1]))
    if dfd is None:
        return None, None
    try:
        st = _lstat_at(dfd, parts[-1])
        if st is None:
            return None, None
        _check_regular(st, shown)
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    finally:
        os.close(dfd)
    with os.fdopen(fd, "r", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return handle.read(), stat.S_IMODE(os.fstat(handle.fileno()).st_mode)


def remove_in(root, rel):
    """Remove ``root/rel`` (nothing when it is missing), contained like :func:`read_in`."""
    parts = _components(rel)
    shown = os.path.join(root, *parts)
    dfd = open_dir(root, "/".join(parts[:-1]))
    if dfd is None:
        return
    try:
        st = _lstat_at(dfd, parts[-1])
        if st is not None:
            _check_regular(st, shown)
            os.unlink(parts[-1], dir_fd=dfd)
            os.fsync(dfd)
    finally:
        os.close(dfd)


def list_in(root, rel_dir):
    """Names in the directory ``root/rel_dir`` ([] when missing), contained like :func:`read_in`."""
    dfd = open_dir(root, rel_dir)
    if dfd is None:
        return []
    try:
        return sorted(os.listdir(dfd))
    finally:
        os.close(dfd)


def stat_in(root, rel):
    """``lstat`` of ``root/rel`` (None when missing), reached like :func:`read_in`; the last
    component itself may be anything (a symlink is reported, not followed)."""
    parts = _components(rel)
    dfd = open_dir(root, "/".join(parts[:-1]))
    if dfd is None:
        return None
    try:
        return _lstat_at(dfd, parts[-1])
    finally:
        os.close(dfd)


def open_in(root, rel):
    """A read-only descriptor of the regular file ``root/rel`` (None when missing), contained like
    :func:`read_in`; the caller closes it."""
    parts = _components(rel)
    dfd = open_dir(root, "/".join(parts[:-1]))
    if dfd is None:
        return None
    try:
        st = _lstat_at(dfd, parts[-1])
        if st is None:
            return None
        _check_regular(st, os.path.join(root, *parts))
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    finally:
        os.close(dfd)


def readlink_in(root, rel):
    """Target of the symlink ``root/rel``; None when missing; UnsafePath when not a symlink."""
    st = stat_in(root, rel)
    if st is None:
        return None
    if not stat.S_ISLNK(st.st_mode):
        raise UnsafePath("%s is not a symbolic link" % os.path.join(root, *_components(rel)))
    parts = _components(rel)
    dfd = open_dir(root, "/".join(parts[:-1]))
    try:
        return os.readlink(parts[-1], dir_fd=dfd)
    finally:
        os.close(dfd)


def symlink_in(root, rel, target):
    """Point the symlink ``root/rel`` at ``target`` atomically: a new link under a temporary name,
    renamed over the old one (``rename(2)`` replaces a link, never follows it), so a reader sees
    the old or the new target, never none.  ``target`` must be one relative name in the same
    directory; a regular file or directory at ``rel`` is refused."""
    if not target or "/" in target or target in (".", ".."):
        raise UnsafePath("%s: link target %r must be a name in the same directory" % (rel, target))
    parts = _components(rel)
    shown = os.path.join(root, *parts)
    dfd = open_dir(root, "/".join(parts[:-1]), create=True)
    try:
        st = _lstat_at(dfd, parts[-1])
        if st is not None and not stat.S_ISLNK(st.st_mode):
            raise UnsafePath("%s exists and is not a symbolic link: refusing to replace it" % shown)
        tmp = ".%s.sanboot-%s" % (parts[-1], os.urandom(6).hex())
        os.symlink(target, tmp, dir_fd=dfd)
        try:
            os.rename(tmp, parts[-1], src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            os.unlink(tmp, dir_fd=dfd)
            raise
        os.fsync(dfd)
    finally:
        os.close(dfd)


def rename_in(root, rel_src, rel_dst):
    """Rename ``root/rel_src`` to ``root/rel_dst`` (both in the same directory, contained like
    :func:`read_in`); refused when ``rel_dst`` exists."""
    src, dst = _components(rel_src), _components(rel_dst)
    if src[:-1] != dst[:-1]:
        raise UnsafePath("%s -> %s: only a rename within one directory" % (rel_src, rel_dst))
    dfd = open_dir(root, "/".join(src[:-1]))
    try:
        if _lstat_at(dfd, dst[-1]) is not None:
            raise OSError(errno.EEXIST, "%s exists" % os.path.join(root, *dst))
        os.rename(src[-1], dst[-1], src_dir_fd=dfd, dst_dir_fd=dfd)
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _rmtree_at(dfd):
    for name in os.listdir(dfd):
        st = _lstat_at(dfd, name)
        if st is not None and stat.S_ISDIR(st.st_mode):
            sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            try:
                _rmtree_at(sub)
            finally:
                os.close(sub)
            os.rmdir(name, dir_fd=dfd)
        elif st is not None:
            os.unlink(name, dir_fd=dfd)      # a symlink is removed, never followed


def rmtree_in(root, rel):
    """Remove the directory ``root/rel`` and everything in it (nothing when missing), never
    following a symlink: a link inside is removed as a link."""
    parts = _components(rel)
    if not parts:
        raise UnsafePath("%s: refusing to remove the root itself" % root)
    dfd = open_dir(root, "/".join(parts[:-1]))
    if dfd is None:
        return
    try:
        st = _lstat_at(dfd, parts[-1])
        if st is None:
            return
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath("%s is not a directory" % os.path.join(root, *parts))
        sub = os.open(parts[-1], _DIR_FLAGS, dir_fd=dfd)
        try:
            _rmtree_at(sub)
        finally:
            os.close(sub)
        os.rmdir(parts[-1], dir_fd=dfd)
        os.fsync(dfd)
    finally:
        os.close(dfd)
