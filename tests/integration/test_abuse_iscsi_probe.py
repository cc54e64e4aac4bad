# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_probe abuse table: portals that would change the iscsi:// URL or a command line, bad
names, CHAP values and bounds are refused by name before any tool runs; a tgtd of this file
(control port 77, portal 127.0.0.1:3287) with one target is watched."""

from __future__ import annotations

import pytest

from _abuse import assert_refused  # noqa: E402  pylint: disable=import-error
from _ansible import run_module  # noqa: E402  pylint: disable=import-error
from _tgtd import Tgtd  # noqa: E402  pylint: disable=import-error

pytestmark = pytest.mark.integration

PORT = 77
TARGET = "iqn.2025-01.lab.sanboot:abuse.probe"
INITIATOR = "iqn.2025-01.lab.sanboot:abuse.client"


@pytest.fixture(scope="module")
def tgtd(tmp_path_factory):
    store = tmp_path_factory.mktemp("probe") / "lun.img"
    with open(str(store), "wb") as f:
        f.truncate(1 << 20)
    daemon = Tgtd(PORT, "127.0.0.1:3287").start()
    try:
        daemon.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET)
        daemon.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1",
                      "--lun", "1", "-b", str(store))
        daemon.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
        yield daemon
    finally:
        daemon.stop()


@pytest.mark.parametrize("kw, option", [
    ({"portal": "-oProxy=1"}, "portal"),
    ({"portal": "guest@127.0.0.1:3287"}, "portal"),
    ({"portal": "127.0.0.1:3287/" + TARGET}, "portal"),
    ({"portal": "127.0.0.1 :3287"}, "portal"),
    ({"portal": "127.0.0.1:3287\n"}, "portal"),
    ({"target": "-" + TARGET}, "target"),
    ({"initiator_name": INITIATOR + " x"}, "initiator_name"),
    ({"lun": -1}, "lun"),
    ({"chap": {"username": "", "password": "abusesecret12"}}, "chap.username"),
    ({"chap": {"username": "u\r", "password": "abusesecret12"}}, "chap.username"),
    ({"write_test": True, "write_length": 0}, "write_length"),
    ({"timeout": 0}, "timeout"),
])
def test_iscsi_probe_refuses(tgtd, tmp_path, kw, option):
    args = dict(portal="127.0.0.1:3287", target=TARGET, initiator_name=INITIATOR)
    args.update(kw)
    assert_refused("iscsi_probe", args, option, tmp_path, watch=dict(tgtd_ports=[PORT]))


def test_well_formed_probe_of_the_same_target_logs_in(tgtd, tmp_path):
    """The control: the refusals above are the option checks, not a broken target."""
    res = run_module("iscsi_probe", dict(portal="127.0.0.1:3287", target=TARGET,
                                         initiator_name=INITIATOR, timeout=20), tmp_path)
    assert not res.get("failed") and res["login"] == "ok" and res["size_bytes"] == 1 << 20, res
