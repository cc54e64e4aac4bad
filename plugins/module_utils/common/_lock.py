# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time per daemon: an exclusive ``flock`` on a lock file, waited for with a bound
(private, common layer).  The kernel drops the lock when the process ends, however it ends."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

LOCK_DIRS = ("/run/lock", "/var/lock")


class LockTimeout(SanbootError):
    """Another run held the lock for longer than the wait allowed."""


def lock_path(name, dirs=LOCK_DIRS):
    """``<first existing of dirs>/<name>.lock``."""
    for d in dirs:
        if os.path.isdir(d):
            return os.path.join(d, name + ".lock")
    return os.path.join(dirs[-1], name + ".lock")


@contextlib.contextmanager
def locked(path, timeout, what, poll=0.05):
    """Hold an exclusive lock on ``path`` inside the block; :class:`LockTimeout` after
    ``timeout`` seconds of waiting (``what`` names the resource in the message)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise LockTimeout("%s is busy: another run has held %s for more than %s s; "
                                  "try again when it has finished" % (what, path, timeout))
            time.sleep(poll)
        yield path
    finally:
        os.close(fd)
