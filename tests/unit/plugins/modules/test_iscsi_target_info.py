# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_target_info's main() with a scripted run_command (tgtadm answers from fixtures)."""

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from _helper import run_main  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import iscsi_target_info

fixture = fixture_reader()
TGTADM = "/usr/sbin/tgtadm"
SHOW = {"target": "tgt_show_target.txt", "account": "tgt_show_account.txt", "portal": "tgt_show_portal.txt"}


def run(monkeypatch, args, check=False, answers=True):
    """Run the module; return (result, [(argv, environ_update)] of every command run)."""
    calls = []

    def run_command(self, argv, **kw):
        calls.append((argv, kw.get("environ_update")))
        if not answers:
            return 107, "", "tgtadm: can't send the request to the tgt daemon, Transport endpoint is not connected\n"
        return 0, fixture(SHOW[argv[argv.index("--mode") + 1]]), ""

    result = run_main(monkeypatch, iscsi_target_info, dict(args, _ansible_check_mode=check), run_command,
                      bin_path=lambda n: "/usr/sbin/" + n)
    return result, calls


CASES = [
    # (arguments, check mode, target ids returned, control port asked)
    (dict(), False, [1, 3], "0"),
    (dict(control_port=42), True, [1, 3], "42"),
    (dict(name="iqn.2024-01.lab.sanboot:t3"), False, [3], "0"),
    (dict(name="iqn.2024-01.lab.sanboot:absent"), True, [], "0"),
]


@pytest.mark.parametrize("args,check,tids,port", CASES)
def test_reads_only(monkeypatch, args, check, tids, port):
    r, calls = run(monkeypatch, args, check=check)
    assert not r["failed"] and r["changed"] is False
    assert [t["tid"] for t in r["targets"]] == tids
    assert r["accounts"] == ["tgtout", "alice"] and r["portals"] == ["127.0.0.1:3261"]
    assert [argv for argv, env in calls] == [
        [TGTADM, "-C", port, "--lld", "iscsi", "--op", "show", "--mode", m] for m in ("target", "account", "portal")]
    assert all(env["LC_ALL"] == "C" for argv, env in calls)


def test_session_and_users_in_result(monkeypatch):
    r, dummy = run(monkeypatch, dict(name="iqn.2024-01.lab.sanboot:t3"))
    t3 = r["targets"][0]
    assert t3["sessions"][0]["initiator"] == "iqn.2024-01.lab.sanboot:holder"
    assert t3["sessions"][0]["addresses"] == ["127.0.0.1"] and t3["allow_all"]


def test_no_tgtd_fails_with_the_command(monkeypatch):
    r, calls = run(monkeypatch, dict(control_port=7), answers=False)
    assert r["failed"] and r["msg"].startswith("control_port: tgtd does not answer on control port 7")
    assert r["rc"] == 107 and "not connected" in r["stderr"] and r["cmd"][-1] == "target"
    assert len(calls) == 1


@pytest.mark.parametrize("args,what", [(dict(control_port=70000), "control_port"),
                                       (dict(name="iqn.2024-01.lab.sanboot:t1\n"), "name")])
def test_bad_options_refused_before_any_command(monkeypatch, args, what):
    r, calls = run(monkeypatch, args)
    assert r["failed"] and r["msg"].startswith(what + ": ") and calls == []
