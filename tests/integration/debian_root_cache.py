# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cached Debian bookworm root directory with a kernel, for tests of ``initramfs_iscsi``.

Built once with ``debootstrap --variant=minbase`` plus, in a chroot, ``linux-image-amd64
initramfs-tools open-iscsi lvm2`` and ``python3 python3-apt`` (for Ansible's chroot connection)
(about 2-3 minutes; needs the package registries), then reused.
The mirror is the first ``URIs:``/``deb`` line of the host's own apt sources: no mirror name is
written into the repository.  Tests copy the cached tree (``cp -a``) and work on the copy, so the
cache stays pristine.

Run ``python tests/integration/debian_root_cache.py`` to build it ahead of the tests.
"""

import glob
import os
import re
import subprocess
import sys

CACHE = os.environ.get("LAB_CACHE") or "/var/cache/sanboot-lab"
ROOT = os.path.join(CACHE, "test-roots", "bookworm-initramfs")
STAMP = ROOT + ".done"
PACKAGES = ["linux-image-amd64", "initramfs-tools", "open-iscsi", "lvm2", "python3", "python3-apt"]


def host_mirror():
    """The Debian mirror the host itself uses (deb822 or one-line format)."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            text = f.read()
        for stanza in text.split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.*)$", stanza, re.M)
            if uris and suites and "bookworm" in suites.group(1).split():
                return uris.group(1)
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
                    if m:
                        return m.group(1)
    raise RuntimeError("no bookworm mirror found in the host's apt sources")


def build():
    """Return the path of the cached root, building it when missing."""
    if os.path.exists(STAMP):
        return ROOT
    subprocess.run(["rm", "-rf", ROOT], check=True)
    os.makedirs(os.path.dirname(ROOT), exist_ok=True)
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", ROOT, host_mirror()],
                   check=True, stdout=subprocess.DEVNULL)
    policy = os.path.join(ROOT, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    subprocess.run(["chroot", ROOT, "apt-get", "install", "-y", "-q", "--no-install-recommends"]
                   + PACKAGES, check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["chroot", ROOT, "apt-get", "clean"], check=True)
    os.unlink(policy)
    open(STAMP, "w").close()
    return ROOT


if __name__ == "__main__":
    print(build())
    sys.exit(0)
