# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sanboot.lab.iscsi_target_info against a real tgtd on loopback.

tgtd control port 86, portal 127.0.0.1:3296 (this file's numbers). The targets are made with
tgtadm directly (not with iscsi_target), so the module is checked against tgtd itself; a session
is held open by qemu-io (driver=iscsi) reading commands from its stdin.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-position
from _tgtd import Tgtd, qemu_io_session  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.integration

CONTROL, PORT = 86, 3296
PORTAL = "127.0.0.1:%d" % PORT
T1 = "iqn.2024-01.lab.sanboot.info:one"
T2 = "iqn.2024-01.lab.sanboot.info:two"
CLIENT = "iqn.2024-01.lab.sanboot.info:client"
CHAP = dict(username="infouser", password="info-secret-1234")
OUT = dict(username="infoout", password="info-mutual-5678")
SPARE = dict(username="infospare", password="info-spare-90123")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def tgtd(request, tmp_path_factory):
    """A tgtd with two targets: T1 (LUN 1 read-write, LUN 2 read-only O_DIRECT with a serial;
    ACL by name; CHAP in and out) and T2 (LUN 1; ACL by addresses). Three accounts, one unbound."""
    base = tmp_path_factory.mktemp("iscsi_target_info")
    paths = {}
    for name, size in (("a", 16), ("b", 8), ("c", 4)):
        paths[name] = str(base / ("%s.img" % name))
        with open(paths[name], "wb") as f:
            f.truncate(size * MIB)
    daemon = Tgtd(CONTROL, PORTAL)
    request.addfinalizer(daemon.stop)
    daemon.start()

    def adm(*args):
        daemon.tgtadm("--lld", "iscsi", *args)

    adm("--op", "new", "--mode", "target", "--tid", "1", "-T", T1)
    adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", paths["a"])
    adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "-b", paths["b"], "--bsoflags", "direct")
    adm("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "readonly=1")
    adm("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params", "scsi_sn=INFO0002")
    adm("--op", "bind", "--mode", "target", "--tid", "1", "-Q", CLIENT)
    for acct in (CHAP, OUT, SPARE):
        adm("--op", "new", "--mode", "account", "--user", acct["username"], "--password", acct["password"])
    adm("--op", "bind", "--mode", "account", "--tid", "1", "--user", CHAP["username"])
    adm("--op", "bind", "--mode", "account", "--tid", "1", "--user", OUT["username"], "--outgoing")
    adm("--op", "new", "--mode", "target", "--tid", "2", "-T", T2)
    adm("--op", "new", "--mode", "logicalunit", "--tid", "2", "--lun", "1", "-b", paths["c"])
    adm("--op", "bind", "--mode", "target", "--tid", "2", "-I", "127.0.0.1")
    adm("--op", "bind", "--mode", "target", "--tid", "2", "-I", "198.51.100.0/25")
    daemon.paths = paths
    return daemon


def info(tmp_path, check_mode=False, **args):
    return run_module("iscsi_target_info", dict(dict(control_port=CONTROL), **args), tmp_path, check_mode=check_mode)


@pytest.fixture
def session(tmp_path):
    """Hold an iSCSI session to T1 open: qemu-io logged in with CHAP, reading commands from stdin."""
    with qemu_io_session(PORTAL, T1, CLIENT, CHAP) as proc:
        yield proc


def test_targets_luns_acls_accounts(tgtd, tmp_path):
    res = info(tmp_path)
    assert not res.get("failed") and res["changed"] is False
    assert [(t["tid"], t["name"]) for t in res["targets"]] == [(1, T1), (2, T2)]
    one, two = res["targets"]
    assert [(x["lun"], x["path"], x["size_bytes"], x["readonly"], x["type"]) for x in one["luns"]] == [
        (1, tgtd.paths["a"], 16 * MIB, False, "fileio"), (2, tgtd.paths["b"], 8 * MIB, True, "blockio")]
    assert one["luns"][1]["serial"] == "INFO0002" and one["luns"][0]["serial"]
    assert (one["initiators"], one["initiator_addresses"], one["allow_all"]) == ([CLIENT], [], False)
    assert (one["chap_users"], one["mutual_chap_users"]) == ([CHAP["username"]], [OUT["username"]])
    assert (two["initiators"], two["initiator_addresses"]) == ([], ["127.0.0.1", "198.51.100.0/25"])
    assert (two["chap_users"], two["mutual_chap_users"], two["sessions"]) == ([], [], [])
    assert one["sessions"] == []
    assert sorted(res["accounts"]) == sorted(a["username"] for a in (CHAP, OUT, SPARE))
    assert PORTAL in res["portals"]


def test_never_a_secret(tgtd, tmp_path):
    text = json.dumps(info(tmp_path))
    for acct in (CHAP, OUT, SPARE):
        assert acct["password"] not in text


def test_session_with_initiator_and_address(tgtd, tmp_path, session):
    res = info(tmp_path, name=T1)
    assert [t["name"] for t in res["targets"]] == [T1]
    (sess,) = res["targets"][0]["sessions"]
    assert sess["initiator"] == CLIENT and sess["addresses"] == ["127.0.0.1"]
    assert [c["address"] for c in sess["connections"]] == ["127.0.0.1"]
    assert isinstance(sess["nexus"], int) and isinstance(sess["connections"][0]["cid"], int)
    assert session.poll() is None
    assert info(tmp_path, name=T2)["targets"][0]["sessions"] == []


def test_check_mode_and_name_filter(tgtd, tmp_path):
    assert info(tmp_path, check_mode=True) == info(tmp_path)
    assert info(tmp_path, name=T2.upper())["targets"][0]["tid"] == 2
    res = info(tmp_path, name="iqn.2024-01.lab.sanboot.info:absent")
    assert res["targets"] == [] and res["changed"] is False and res["accounts"]


def test_no_tgtd_on_the_port(tmp_path):
    res = info(tmp_path, control_port=CONTROL + 1000)
    assert res["failed"] and res["msg"].startswith("control_port: tgtd does not answer on control port %d" % (CONTROL + 1000))
    assert res["rc"] != 0 and "tgtadm" in res["cmd"][0]


def test_bad_control_port_refused(tmp_path):
    res = info(tmp_path, control_port=70000)
    assert res["failed"] and res["msg"].startswith("control_port: 70000 is not a tgtd control port")
