# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TFTP tree of pxe_server (private): plan every change first, then apply it.

Layout below ``tftp_root``::

    undionly.kpxe, pxelinux.0, ldlinux.c32   boot loaders (copied by the role, checked here)
    ipxe/<hostname>.ipxe                      per-host iPXE scripts (0600 when they hold CHAP)
    pxelinux.cfg/<uuid>, pxelinux.cfg/01-<mac>
    images/<generation>/...                   one directory per boot-image build, immutable,
    images/<generation>/SHA256SUMS            with the checksums of its files
    images/current -> <generation>            the current one: a relative symlink

A generation is built in ``images/.<name>.new`` and renamed into place (it exists whole or not
at all); ``current`` is switched by renaming a new link over it (a TFTP reader sees the old or
the new generation, never none); a rollback is a new ``current_generation``.  Generations beyond
``keep_generations`` are removed oldest first (age: the mtime of their SHA256SUMS), never the
current one nor one listed in the request.  Every read and write goes through ``common._files``
(contained in the root, no symlink followed, files atomic with their final mode and owner).

dnsmasq follows symlinks when it serves a file; so before anything changes the tree is searched
and a symlink that resolves outside the root is refused, and ``tftp-secure`` makes dnsmasq serve
only files owned by its own user (root's files, e.g. behind a link planted later, are refused).
"""

from __future__ import annotations

import hashlib
import os
import stat

from ansible_collections.sanboot.lab.plugins.module_utils.common._files import (
    UnsafePath, list_in, open_in, read_in, readlink_in, remove_in, rename_in, rmtree_in, stat_in,
    symlink_in, write_in)
from ansible_collections.sanboot.lab.plugins.module_utils.boot._pxe import PxeError
from ansible_collections.sanboot.lab.plugins.module_utils.boot._pxe_render import (
    HEADER, IPXE_DIR, PUBLIC_MODE, PXELINUX_DIR, loaders_needed, redact, secret_problem, tftp_files)

IMAGES, CURRENT, SUMS = "images", "current", "SHA256SUMS"


class Change(object):
    """``kind``: file (write), remove (a stale managed file), generation (build), link (switch
    ``current``), prune (remove a generation)."""

    def __init__(self, kind, rel, before=None, after=None, mode=PUBLIC_MODE, secret=False, files=None):
        self.kind, self.rel, self.before, self.after = kind, rel, before, after
        self.mode, self.secret, self.files = mode, secret, files or {}

    def __repr__(self):
        return "Change(%s %s)" % (self.kind, self.rel)


def _digest_fd(fd):
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_file(path):
    """sha256 of a source file on this host (None when it is not a readable regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return _digest_fd(fd)


def digest_in(root, rel):
    fd = open_in(root, rel)
    return None if fd is None else _digest_fd(fd)


def escaping_links(root):
    """``[(path, resolved)]`` of the symlinks below ``root`` that resolve outside it."""
    real = os.path.realpath(root)
    out = []
    for base, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs + files):
            path = os.path.join(base, name)
            if os.path.islink(path):
                resolved = os.path.realpath(path)
                if os.path.commonpath([real, resolved]) != real:
                    out.append((path, resolved))
    return out


def _check_root(root):
    try:
        st = os.lstat(root)
    except OSError:
        raise PxeError("tftp_root: %s does not exist (the role creates it)" % root)
    if not stat.S_ISDIR(st.st_mode):
        raise PxeError("tftp_root: %s is %s, not a directory" % (
            root, "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file"))
    bad = escaping_links(root)
    if bad:
        raise PxeError("tftp_root: %s is a symbolic link to %s, outside %s: dnsmasq would follow "
                       "it and serve that file to any TFTP client; remove it" % (bad[0][0], bad[0][1], root))


def _generations_on_disk(root):
    out = {}
    for name in list_in(root, IMAGES):
        if name.startswith(".") or name == CURRENT:
            continue
        st = stat_in(root, "%s/%s" % (IMAGES, name))
        if st is not None and stat.S_ISDIR(st.st_mode):
            sums = stat_in(root, "%s/%s/%s" % (IMAGES, name, SUMS))
            out[name] = ((sums or st).st_mtime, name)
    return out


def _plan_generations(req, root):
    disk = _generations_on_disk(root)
    changes, built = [], {}
    for g in req.generations:
        digests = {}
        for dest, src in sorted(g["files"].items()):
            digests[dest] = digest_file(src)
            if digests[dest] is None:
                raise PxeError("%s.files.%s: %s is not a readable regular file on this host" % (g["what"], dest, src))
        if g["name"] in disk:
            for dest in sorted(digests):
                have = digest_in(root, "%s/%s/%s" % (IMAGES, g["name"], dest))
                if have != digests[dest]:
                    raise PxeError("%s.files.%s: generation %s already holds %s: generations are "
                                   "immutable, build a new generation name" % (
                                       g["what"], dest, g["name"], "a different file" if have else "no such file"))
        elif not g["files"]:
            raise PxeError("%s.files: generation %s is not under %s/%s and has no files to build it "
                           "from" % (g["what"], g["name"], root, IMAGES))
        else:
            built[g["name"]] = g["files"]
            sums = "".join("%s  %s\n" % (digests[d], d) for d in sorted(digests))
            changes.append(Change("generation", "%s/%s" % (IMAGES, g["name"]), after=sums, files=g["files"]))
    link = "%s/%s" % (IMAGES, CURRENT)
    before = readlink_in(root, link) if stat_in(root, IMAGES) is not None else None
    if req.current is not None:
        if req.current not in disk and req.current not in built:
            raise PxeError("current_generation: %s is neither listed in generations nor under %s/%s "
                           "(there: %s)" % (req.current, root, IMAGES, ", ".join(sorted(disk)) or "none"))
        if before != req.current:
            changes.append(Change("link", link, before=before, after=req.current))
    current = req.current if req.current is not None else before
    protected = set(g["name"] for g in req.generations) | set([current])
    ages = sorted(disk.values())
    count = len(disk) + len(built)
    for _mtime, name in ages:
        if count <= req.keep:
            break
        if name not in protected:
            changes.append(Change("prune", "%s/%s" % (IMAGES, name), before=name))
            count -= 1
    pruned = [c.before for c in changes if c.kind == "prune"]
    after = sorted((set(disk) | set(built)) - set(pruned))
    return changes, built, dict(current=current, generations=after, pruned=pruned)


def _exists_after(root, rel, built, current):
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == IMAGES:
        gen = current if parts[1] == CURRENT else parts[1]
        if gen is None:
            return False
        if gen in built:
            return len(parts) == 3 and parts[2] in built[gen]
        rel = "/".join([IMAGES, gen] + parts[2:])
    st = stat_in(root, rel)
    return st is not None and stat.S_ISREG(st.st_mode)


def _check_files(req, root, built, current, uid, warnings):
    for entry in sorted(req.entries.values(), key=lambda e: e["what"]):
        if entry["type"] != "kernel":
            continue
        for key, rel in [("kernel", entry["kernel"])] + [("initrd[%d]" % i, p) for i, p in enumerate(entry["initrd"])]:
            try:
                found = _exists_after(root, rel, built, current)
            except UnsafePath as e:
                raise PxeError("%s.%s: %s" % (entry["what"], key, e))
            if not found:
                raise PxeError("%s.%s: %s does not exist in tftp_root %s%s" % (
                    entry["what"], key, rel, root,
                    " (current generation: %s)" % current if rel.startswith(IMAGES + "/") else ""))
    for rel, why in sorted(loaders_needed(req).items()):
        st = stat_in(root, rel)
        if st is None or not stat.S_ISREG(st.st_mode):
            raise PxeError("%s: %s is missing from tftp_root %s (the role copies it from Debian's "
                           "ipxe, pxelinux and syslinux-common packages)" % (why, rel, root))
        if st.st_uid != uid:
            warnings.append("%s/%s is not owned by %s: dnsmasq (tftp-secure) will not serve it" % (root, rel, req.tftp_user))


def _plan_files(req, root, uid, gid):
    rendered = tftp_files(req)
    problem = secret_problem(rendered, req.secrets)
    if problem:
        raise PxeError(problem)
    changes, wanted = [], set()
    for r in rendered:
        wanted.add(r.rel)
        try:
            before, mode = read_in(root, r.rel)
            st = stat_in(root, r.rel)
        except UnsafePath as e:
            raise PxeError("%s: %s" % (r.what, e))
        if before != r.text or mode != r.mode or st is None or (st.st_uid, st.st_gid) != (uid, gid):
            changes.append(Change("file", r.rel, before, r.text, r.mode, r.secret))
    for directory in (IPXE_DIR, PXELINUX_DIR):
        for name in list_in(root, directory):
            rel = "%s/%s" % (directory, name)
            if rel in wanted:
                continue
            st = stat_in(root, rel)
            if st is None or not stat.S_ISREG(st.st_mode):
                continue
            text, _mode = read_in(root, rel)
            if HEADER in "\n".join(text.splitlines()[:2]):
                changes.append(Change("remove", rel, before=text))
    return changes


def plan(req, uid, gid):
    """Every change the request needs, in the order it is applied: ``(changes, images, warnings)``
    where ``images`` tells the current generation, those present afterwards and those pruned.
    Raises PxeError (naming the option) before anything changes."""
    root, warnings = req.tftp_root, []
    _check_root(root)
    try:
        changes, built, images = _plan_generations(req, root)
    except UnsafePath as e:
        raise PxeError("generations: %s" % e)
    _check_files(req, root, built, images["current"], uid, warnings)
    changes += _plan_files(req, root, uid, gid)
    order = dict(generation=0, link=1, file=2, remove=3, prune=4)
    return sorted(changes, key=lambda c: (order[c.kind], c.rel)), images, warnings


def config_change(req, text):
    """The change of the dnsmasq configuration file (None when it is up to date)."""
    directory, name = os.path.split(req.config_path)
    try:
        before, mode = read_in(directory, name)
    except UnsafePath as e:
        raise PxeError("config_path: %s" % e)
    except OSError as e:
        raise PxeError("config_path: %s: %s (is dnsmasq installed?)" % (directory, e.strerror))
    if before == text and mode == PUBLIC_MODE:
        return None
    return Change("config", req.config_path, before, text)


def apply(req, changes, uid, gid):
    """Carry out ``changes`` (from :func:`plan`) below the TFTP root."""
    root, owner = req.tftp_root, (uid, gid)
    for c in changes:
        if c.kind == "generation":
            name = c.rel.split("/")[-1]
            tmp = "%s/.%s.new" % (IMAGES, name)
            rmtree_in(root, tmp)                   # a build interrupted earlier
            for dest, src in sorted(c.files.items()):
                with open(src, "rb") as f:
                    write_in(root, "%s/%s" % (tmp, dest), f.read(), PUBLIC_MODE, owner)
            write_in(root, "%s/%s" % (tmp, SUMS), c.after, PUBLIC_MODE, owner)
            rename_in(root, tmp, c.rel)
        elif c.kind == "link":
            symlink_in(root, c.rel, c.after)
        elif c.kind == "file":
            write_in(root, c.rel, c.after, c.mode, owner)
        elif c.kind == "remove":
            remove_in(root, c.rel)
        elif c.kind == "prune":
            rmtree_in(root, c.rel)


def diff_entry(c, root, secrets):
    """A before/after diff of one change, secrets redacted (a removed or 0600 file is shown
    redacted as a whole when it may hold secrets)."""
    path = c.rel if c.kind == "config" else os.path.join(root, c.rel)
    if c.kind == "generation":
        return dict(before_header=path, after_header=path, before="", after="generation %s:\n%s" % (c.rel, c.after))
    if c.kind == "link":
        return dict(before_header=path, after_header=path, before="-> %s\n" % c.before if c.before else "",
                    after="-> %s\n" % c.after)
    if c.kind == "prune":
        return dict(before_header=path, after_header=path, before="generation %s\n" % c.before, after="")
    return dict(before_header=path, after_header=path, before=redact(c.before or "", secrets),
                after=redact(c.after or "", secrets))
