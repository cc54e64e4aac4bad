# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sanboot.lab.iscsi_probe against a real tgtd on loopback (control port 51, TCP 3272).

The module runs as Ansible runs it: a Python process reading ANSIBLE_MODULE_ARGS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROL = "51"
PORTAL = "127.0.0.1:3272"
TARGET = "iqn.2025-01.lab.sanboot.test:probe"
CLIENT = "iqn.2025-01.lab.sanboot.test:client1"
CHAP = dict(username="client1", password="probe-secret-1234")
MIB = 1024 * 1024


def tgtadm(*args, check=True):
    return subprocess.run(["tgtadm", "-C", CONTROL] + list(args), check=check,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def lun_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("iscsi_probe")
    files = []
    for lun, size in ((1, 64), (2, 32)):
        path = base / ("lun%d.img" % lun)
        with open(path, "wb") as handle:
            handle.truncate(size * MIB)
        files.append(path)
    # Known content where the default write test writes (middle of LUN 1, 1 MiB aligned).
    with open(files[0], "r+b") as handle:
        handle.seek(32 * MIB)
        handle.write(b"sanboot" * 600)
    return files


@pytest.fixture(scope="module")
def tgtd(request, lun_files):
    proc = subprocess.Popen(["/usr/sbin/tgtd", "-f", "-C", CONTROL, "--iscsi", "portal=%s" % PORTAL],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop():
        tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline", check=False)
        tgtadm("--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", "1", "--force", check=False)
        tgtadm("--op", "delete", "--mode", "system", check=False)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    request.addfinalizer(stop)
    while tgtadm("--op", "show", "--mode", "sys", check=False).returncode != 0:
        assert proc.poll() is None, "tgtd exited"
        time.sleep(0.1)
    tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET)
    for lun, path in enumerate(lun_files, start=1):
        tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1",
               "--lun", str(lun), "-b", str(path))
    tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-Q", CLIENT)
    tgtadm("--lld", "iscsi", "--op", "new", "--mode", "account", "--user", CHAP["username"],
           "--password", CHAP["password"])
    tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "1", "--user", CHAP["username"])
    return proc


def probe(tmp_path, check_mode=False, **args):
    args.setdefault("portal", PORTAL)
    args.setdefault("target", TARGET)
    args.setdefault("initiator_name", CLIENT)
    return run_module("iscsi_probe", args, tmp_path, check_mode=check_mode)


def test_allowed_login_reads_capacity_and_round_trips(tgtd, lun_files, tmp_path):
    before = lun_files[0].read_bytes()
    result = probe(tmp_path, chap=CHAP, write_test=True)
    assert not result.get("failed"), result
    assert result["login"] == "ok" and result["changed"] is False
    assert result["size_bytes"] == 64 * MIB and result["block_size"] == 512
    assert (result["vendor"], result["product"]) == ("IET", "VIRTUAL-DISK")
    assert result["discovered"] == [TARGET]
    assert result["verified_write"] is True and result["restored"] is True
    assert result["write_offset"] == 32 * MIB
    assert lun_files[0].read_bytes() == before, "the write test must leave the LUN's data as it was"
    assert CHAP["password"] not in json.dumps(result)


def test_second_lun_size(tgtd, tmp_path):
    result = probe(tmp_path, chap=CHAP, lun=2)
    assert result["size_bytes"] == 32 * MIB and result["verified_write"] is False


def test_login_without_chap_is_refused(tgtd, tmp_path):
    result = probe(tmp_path, expect="login_refused")
    assert not result.get("failed"), result
    assert result["login"] == "refused" and result["login_status"] == 0x0201


def test_wrong_initiator_is_refused_and_sees_nothing(tgtd, tmp_path):
    result = probe(tmp_path, chap=CHAP, initiator_name="iqn.2025-01.lab.sanboot.test:intruder",
                   expect="login_refused")
    assert not result.get("failed"), result
    assert result["login_status"] == 0x0203 and result["discovered"] == []


def test_wrong_secret_is_refused(tgtd, tmp_path):
    result = probe(tmp_path, chap=dict(CHAP, password="not-the-secret-12"), expect="login_refused")
    assert result["login"] == "refused" and result["login_status"] == 0x0201


def test_expected_login_refused_fails_the_module(tgtd, tmp_path):
    result = probe(tmp_path)
    assert result["failed"] and "login refused" in result["msg"] and result["login_status"] == 513


def test_expected_refusal_accepted_fails_the_module(tgtd, tmp_path):
    result = probe(tmp_path, chap=CHAP, expect="login_refused")
    assert result["failed"] and "accepted" in result["msg"]


def test_no_answer_is_a_failure_not_a_refusal(tgtd, tmp_path):
    result = probe(tmp_path, portal="127.0.0.1:3279", expect="login_refused")
    assert result["failed"] and "login" not in result and result["rc"] != 0


def test_unknown_lun_is_a_failure(tgtd, tmp_path):
    result = probe(tmp_path, chap=CHAP, lun=7)
    assert result["failed"] and "INQUIRY" in result["msg"]


def test_check_mode_skips_the_write(tgtd, lun_files, tmp_path):
    result = probe(tmp_path, check_mode=True, chap=CHAP, write_test=True)
    assert result["login"] == "ok" and result["verified_write"] is False and "restored" not in result


def test_bad_input_is_refused_before_any_command(tmp_path):
    result = probe(tmp_path, portal="2001:db8::1")
    assert result["failed"] and result["msg"].startswith("portal:")
    result = probe(tmp_path, initiator_name="iqn.2025-01.x:a b")
    assert result["failed"] and result["msg"].startswith("initiator_name:")
