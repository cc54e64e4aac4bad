# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel testbed (a QEMU/TCG VM with Debian's kernel) as a session-scoped pytest fixture.

Use it from any integration test module::

    # tests/integration/conftest.py provides the fixture ``testbed``

    def test_something(testbed):
        testbed.run("lvm version")                      # CompletedProcess, fails on rc != 0
        testbed.host, testbed.key, testbed.data_disk    # 198.51.100.30, ssh key, empty 1 GiB disk

The fixture reuses a testbed that already answers (one started by ``playbooks/testbed_up.yml``, or
any host named by ``SANBOOT_TESTBED`` with the key ``SANBOOT_TESTBED_KEY``) and leaves it running;
otherwise it starts one with ``playbooks/testbed_up.yml`` and stops it with
``playbooks/testbed_down.yml`` at the end of the session, also after failures. Sessions of
several pytest processes are serialised by a file lock (/var/lib/sanboot-lab/testbed.lock).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_HOST = "198.51.100.30"
DEFAULT_KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"
DATA_DISK = "/dev/disk/by-id/virtio-sanboot-data"
LOCK = "/var/lib/sanboot-lab/testbed.lock"
SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
               # a testbed stopped under a running command (make lab-down) fails it in 2 min, not 10
               "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=12"]


class Testbed(object):
    """ssh settings of the testbed and a helper to run shell commands there as root."""

    def __init__(self, host, key, user="root"):
        self.host = host
        self.key = key
        self.user = user
        self.data_disk = DATA_DISK

    @property
    def ssh_argv(self):
        """``ssh`` argv prefix (append one remote shell command string)."""
        return ["ssh", "-i", self.key] + SSH_OPTIONS + ["%s@%s" % (self.user, self.host)]

    @property
    def testinfra_url(self):
        """Host spec for ``testinfra.get_host``."""
        return "ssh://%s@%s?ssh_identity_file=%s" % (self.user, self.host, self.key)

    @property
    def ansible_env(self):
        """Environment for ``ansible``/``ansible-playbook -i '<host>,'`` against the testbed."""
        return {"ANSIBLE_REMOTE_USER": self.user, "ANSIBLE_PRIVATE_KEY_FILE": self.key}

    def run(self, command, check=True, timeout=600):
        """Run ``command`` (one shell string) on the testbed; return the CompletedProcess."""
        proc = subprocess.run(self.ssh_argv + [command], capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)  # see conftest._blocking_stdio
        if check and proc.returncode != 0:
            raise AssertionError("testbed: %r exited %d\nstdout: %s\nstderr: %s"
                                 % (command, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def answers(self):
        """True when a root login with the key works now."""
        if not os.path.exists(self.key):
            return False
        try:
            return self.run("true", check=False, timeout=30).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def _playbook(name):
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="default")
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
            os.path.join(ROOT, "playbooks", name)]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError("%s failed (rc %d):\n%s\n%s" % (name, proc.returncode, proc.stdout[-6000:],
                                                             proc.stderr[-3000:]))
    return proc


def _lock(timeout=3600):
    """Serialise pytest sessions of this machine that use the testbed (one owner at a time)."""
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    handle = open(LOCK, "w")  # pylint: disable=consider-using-with
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise AssertionError("another test session holds %s for over %d s" % (LOCK, timeout))
            time.sleep(2)


# One testbed per pytest process, shared by every module that imports the fixture.
_SESSION = {"bed": None, "users": 0, "started": False, "lock": None}


@pytest.fixture(scope="session")
def testbed():
    """The running kernel testbed (reused, or started now and stopped at the end of the session).

    Another pytest process using the testbed at the same time waits for this one to finish (a file
    lock), so tests never share the data disk with a concurrent session.
    """
    if _SESSION["bed"] is None:
        _SESSION["lock"] = _lock()
        bed = Testbed(os.environ.get("SANBOOT_TESTBED", DEFAULT_HOST),
                      os.environ.get("SANBOOT_TESTBED_KEY", DEFAULT_KEY))
        _SESSION.update(bed=bed, started=False)
        if not bed.answers():
            if "SANBOOT_TESTBED" in os.environ:
                _release()
                raise AssertionError("SANBOOT_TESTBED=%s does not answer ssh with key %s" % (bed.host, bed.key))
            _SESSION["started"] = True
            try:
                _playbook("testbed_up.yml")
                bed.run("true")
            except BaseException:
                _release()
                raise
    _SESSION["users"] += 1
    try:
        yield _SESSION["bed"]
    finally:
        _SESSION["users"] -= 1
        if _SESSION["users"] == 0:
            _release()


def _release():
    """Stop the testbed when this session started it; drop the lock."""
    try:
        if _SESSION["started"]:
            _playbook("testbed_down.yml")
    finally:
        _SESSION.update(bed=None, started=False)
        if _SESSION["lock"] is not None:
            _SESSION["lock"].close()
            _SESSION["lock"] = None


__all__ = ["Testbed", "testbed"]
