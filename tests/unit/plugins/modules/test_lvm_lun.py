# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_lun's main() with a scripted run_command (LVM answers from fixtures; no processes)."""

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from _helper import Table, run_main  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import lvm_lun
from ansible_collections.sanboot.lab.plugins.module_utils.common import _stores

MiB = 1024 * 1024


fixture = fixture_reader("lvm")


def run(monkeypatch, args, lvs_after=None, check=False, ports=()):
    """Run the module; return (result, argv of every command run)."""
    calls = []
    lvs = [fixture("lvs_san.json")] + ([lvs_after] if lvs_after else [])

    def run_command(self, argv, **kw):
        calls.append(argv)
        if argv[0] == "vgs":
            if argv[-1] != "san":
                return 5, "", '  Volume group "%s" not found\n' % argv[-1]
            return 0, fixture("vgs_san.json"), ""
        if argv[0] == "lvs":
            return 0, lvs.pop(0) if len(lvs) > 1 else lvs[0], ""
        return 0, "", ""

    monkeypatch.setattr(_stores, "vblade_exports", lambda proc="/proc": [])
    monkeypatch.setattr(_stores, "tgtd_control_ports", lambda run_dir=None: list(ports))
    monkeypatch.setattr(lvm_lun._lvm, "read_mountinfo", lambda: fixture("mountinfo"))
    args = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    result = run_main(monkeypatch, lvm_lun, args, run_command, bin_path=lambda n: None if n == "tgtadm" else "/sbin/" + n)
    return result, calls


def test_create(monkeypatch):
    after = fixture("lvs_san.json").replace('"lv_name":"idle"', '"lv_name":"new"').replace(
        '"lv_size":"8388608"', '"lv_size":"12582912"').replace("/dev/san/idle", "/dev/san/new")
    r, calls = run(monkeypatch, dict(vg="san", name="new", size="10MiB"), lvs_after=after)
    assert r["changed"] and r["size_bytes"] == 12 * MiB and r["rounded_from"] == 10 * MiB
    assert ["lvcreate", "-L", "12582912b", "-n", "new", "--wipesignatures", "y", "--yes",
            "san"] in calls
    assert r["diff"]["before"] == "absent\n" and "12582912" in r["diff"]["after"]


def test_check_mode_uses_lvm_test(monkeypatch):
    r, calls = run(monkeypatch, dict(vg="san", name="scratch", size="8MiB"), check=True)
    assert r["changed"] and calls[-1] == ["lvextend", "--test", "-L", "8388608b", "san/scratch"]
    assert r["size_bytes"] == 8 * MiB


def test_noop_runs_only_reads(monkeypatch):
    r, calls = run(monkeypatch, dict(vg="san", name="scratch", size=4 * MiB))
    assert not r["changed"] and r["size_bytes"] == 4 * MiB
    assert [c[0] for c in calls] == ["vgs", "lvs"]


def test_errors(monkeypatch):
    r, calls = run(monkeypatch, dict(vg="san", name="guest1-root", size="1MiB"))
    assert r["failed"] and "never shrinks" in r["msg"]
    r, calls = run(monkeypatch, dict(vg="nosuch", name="x", size="1MiB"))
    assert r["failed"] and "'nosuch' does not exist" in r["msg"]
    r, calls = run(monkeypatch, dict(vg="san", name="x", size="lots"))
    assert r["failed"] and r["msg"].startswith("size:") and calls == []
    r, calls = run(monkeypatch, dict(vg="san", name="guest1-root", state="absent"))
    assert r["failed"] and "mounted on /srv/guest 1" in r["msg"]
    assert not any(c[0] == "lvremove" for c in calls)
    r, calls = run(monkeypatch, dict(vg="san", name="guest1-root", state="absent", force=True))
    assert r["changed"] and ["lvremove", "-y", "san/guest1-root"] in calls


def test_refusals_name_the_option(monkeypatch):
    for args, option in ((dict(vg="san", name="x", size="lots"), "size"),
                         (dict(vg="san", name="x", size="0"), "size"),
                         (dict(vg="-san", name="x", size="1MiB"), "vg"),
                         (dict(vg="san", name="guest1-root", size="1MiB"), "size"),
                         (dict(vg="san", name="guest1-root", state="absent"), "state")):
        r, dummy = run(monkeypatch, args)
        assert r["failed"] and r["option"] == option and r["msg"].startswith(option)


def test_removal_refused_when_a_tgtd_cannot_be_asked(monkeypatch):
    monkeypatch.setattr(_stores, "store_id", lambda path, root="", strict=False: ("blk", 0xfe02))
    r, calls = run(monkeypatch, dict(vg="san", name="idle", state="absent"), ports=[61])
    assert r["failed"] and r["option"] == "state"
    assert "cannot tell whether /dev/san/idle is exported" in r["msg"] and "tgtadm is not installed" in r["msg"]
    assert not any(c[0] == "lvremove" for c in calls)


# ---------------------------------------------------------------- the table (test_lvm_lun.yaml)
TABLE = Table(lvm_lun, __file__)


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
