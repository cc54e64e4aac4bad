# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aoe_export and aoe_probe abuse table: hostile input is refused by name and changes nothing.

A veth pair ``sbi-ab0``/``sbi-ab1`` of the root namespace (created here, deleted at the end)
is the interface (shelf 42 belongs to this file); the pidfile, log and unit/env directories, the backing files and the vblade
and tgtd processes are watched.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from _abuse import assert_refused, processes  # noqa: E402  pylint: disable=import-error

from ansible_collections.sanboot.lab.plugins.module_utils.aoe._vblade import parse_argv

pytestmark = pytest.mark.integration

IF_T, IF_C = "sbi-ab0", "sbi-ab1"
RUN_DIR = "/run/sanboot-vblade"
WATCH_DIRS = [RUN_DIR, "/etc/sanboot", "/etc/systemd/system/sanboot-vblade@.service"]


def _started_here(base):
    """vblade pids of shelf 42 serving a file under this session's temporary directory: only a
    regression (an accepted case) starts one."""
    out = []
    for pid, argv in processes(("vblade",)).items():
        parsed = parse_argv(list(argv))
        if parsed and parsed["shelf"] == 42 and parsed["path"].startswith(base):
            out.append(pid)
    return out


@pytest.fixture(scope="module")
def link(tmp_path_factory):
    assert os.geteuid() == 0, "needs root (links, raw sockets)"
    base = str(tmp_path_factory.getbasetemp())
    subprocess.run(["ip", "link", "add", IF_T, "type", "veth", "peer", "name", IF_C], check=True)
    try:
        for name in (IF_T, IF_C):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield
    finally:
        for pid in _started_here(base):
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "link", "del", IF_T], check=False)
        for name in os.listdir(RUN_DIR) if os.path.isdir(RUN_DIR) else []:
            if name.startswith("e42."):
                os.unlink(os.path.join(RUN_DIR, name))


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk" / "e.img"
    path.parent.mkdir()
    with open(str(path), "wb") as f:
        f.truncate(1 << 20)
    return path


def export(disk, **kw):
    args = dict(shelf=42, slot=1, interface=IF_T, path=str(disk), supervisor="process")
    args.update(kw)
    return args


@pytest.mark.parametrize("kw, option", [
    ({"path": "DIR"}, "path"),
    ({"path": "/dev/null"}, "path"),
    ({"path": "/dev/zero"}, "path"),
    ({"path": "DISK\n"}, "path"),
    ({"interface": "lo"}, "interface"),
    ({"interface": "-d"}, "interface"),
    ({"interface": "sbi-none0"}, "interface"),
    ({"allowed_macs": ["ff:ff:ff:ff:ff:ff"]}, "allowed_macs"),
    ({"allowed_macs": ["02:00:00:00:00:01", "01:00:5e:00:00:01"]}, "allowed_macs"),
    ({"allowed_macs": ["00:00:00:00:00:00"]}, "allowed_macs"),
    ({"shelf": 65535}, "shelf"),
    ({"slot": 255}, "slot"),
])
def test_aoe_export_refuses(link, tmp_path, disk, kw, option):
    kw = dict(kw)
    if kw.get("path") == "DIR":
        kw["path"] = str(disk.parent)
    elif kw.get("path") == "DISK\n":
        kw["path"] = str(disk) + "\n"
    assert_refused("aoe_export", export(disk, **kw), option, tmp_path,
                   watch=dict(paths=WATCH_DIRS + [str(disk.parent)]))


def probe(**kw):
    args = dict(shelf=42, slot=1, interface=IF_C, timeout=0.2, retries=0)
    args.update(kw)
    return args


@pytest.mark.parametrize("kw, option", [
    ({"interface": "lo"}, "interface"),
    ({"interface": "sbi-none0"}, "interface"),
    ({"shelf": 65535}, "shelf"),
    ({"slot": 255}, "slot"),
    ({"mac": "ff:ff:ff:ff:ff:ff", "write_lba": 0, "write_data": "00"}, "mac"),
    ({"mac": "33:33:00:00:00:01", "write_lba": 0, "write_data": "00"}, "mac"),
    ({"read_lba": 0, "read_count": 0}, "read_count"),
    ({"write_lba": -1, "write_data": "00"}, "write_lba"),
    ({"timeout": 0}, "timeout"),
    ({"retries": -1}, "retries"),
])
def test_aoe_probe_refuses(link, tmp_path, disk, kw, option):
    assert_refused("aoe_probe", probe(**kw), option, tmp_path,
                   watch=dict(paths=WATCH_DIRS + [str(disk.parent)]))
