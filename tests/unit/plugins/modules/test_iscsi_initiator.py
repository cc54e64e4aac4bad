# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_initiator's main() against a fake iscsiadm that keeps records and sessions in memory and
answers in open-iscsi 2.1.8's formats (fixtures/open-iscsi); no processes."""

from __future__ import annotations

import re

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from _helper import run_main  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import iscsi_initiator
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _devices, _initiator

fixture = fixture_reader("open-iscsi")
T = "iqn.2024-01.lab.sanboot.test:t1"
OTHER = "iqn.2024-01.lab.sanboot.test:t2"
SECRET = "secret-123456"


def _record(target, portal):
    text = fixture("node_show_chap_S.txt").replace("iqn.2024-01.lab.sanboot.test:h11-capture", target)
    rec = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    rec.update({"node.session.auth.authmethod": "None", "node.session.auth.username": "<empty>",
                "node.session.auth.password": "<empty>", "node.conn[0].address": portal})
    return rec


class FakeIscsiadm(object):
    """Records {(target, portal, iface): dict}, discoverydb {(portal, iface): dict}, sessions."""

    def __init__(self, offered):
        self.offered = offered          # {portal: [(portal line, target)]} SendTargets answers
        self.records, self.ddb, self.sessions, self.calls = {}, {}, [], []

    def __call__(self, module, argv, **kw):
        self.calls.append(list(argv))
        assert kw["environ_update"]["LC_ALL"] == "C"
        a = list(argv)
        opts = dict((a[i], a[i + 1]) for i in range(len(a) - 1) if a[i] in ("-m", "-T", "-p", "-I", "-o", "-P"))
        if opts["-m"] == "session":
            if not self.sessions:
                return 21, "", fixture("err_no_sessions.txt")
            return 0, self.session_text(), ""
        pairs = [(a[i + 1], a[i + 3]) for i in range(len(a) - 3) if a[i] == "-n"]
        if opts["-m"] == "discoverydb":
            key = (opts["-p"], opts["-I"])
            if "--discover" in a:
                lines = self.offered.get(opts["-p"])
                if lines is None:
                    return 4, "", "iscsiadm: cannot make connection to %s: Connection refused\n" % opts["-p"]
                if opts["-o"] == "new":
                    self.ddb.setdefault(key, {})
                    for portal, target in lines:
                        self.records.setdefault((target, portal, opts["-I"]), _record(target, portal))
                return 0, "".join("%s,1 %s\n" % pl for pl in lines), ""
            return self.record_op(self.ddb, key, opts.get("-o"), pairs, lambda: {
                "discovery.sendtargets.auth.authmethod": "None", "discovery.sendtargets.auth.username": "<empty>",
                "discovery.sendtargets.auth.password": "<empty>", "discovery.sendtargets.auth.username_in": "<empty>",
                "discovery.sendtargets.auth.password_in": "<empty>"}, 6)
        key = (opts["-T"], opts["-p"], opts["-I"])
        if "--login" in a:
            self.sessions.append(key)
            return 0, "Login to [iface: %s, target: %s, portal: %s] successful.\n" % (key[2], key[0], key[1]), ""
        if "--logout" in a:
            if key not in self.sessions:
                return 21, "", "iscsiadm: No matching sessions found\n"
            self.sessions.remove(key)
            return 0, "", ""
        return self.record_op(self.records, key, opts.get("-o"), pairs, lambda: _record(key[0], key[1]), 21)

    @staticmethod
    def record_op(table, key, op, pairs, new, missing_rc):
        if op == "new":
            table[key] = new()
            return 0, "", ""
        if key not in table:
            return missing_rc, "", fixture("err_no_records.txt")
        if op == "delete":
            del table[key]
            return 0, "", ""
        if op == "update":
            for k, v in pairs:
                if k not in table[key]:
                    return 7, "", fixture("err_invalid_param.txt").replace("node.bogus", k)
                table[key][k] = v or "<empty>"
            return 0, "", ""
        return 0, "# BEGIN RECORD 2.1.8\n%s# END RECORD\n" % "".join(
            "%s = %s\n" % kv for kv in table[key].items()), ""

    def session_text(self):
        block = fixture("session_p3.txt").split("Target: iqn.2024-01.lab.sanboot.test:v6")[0]
        out = "iSCSI Transport Class version 2.0-870\nversion 2.1.8\n"
        for sid, (target, portal, iface) in enumerate(self.sessions, 1):
            body = block.split("\n", 2)[2]
            body = body.replace("iqn.2024-01.lab.sanboot.test:h11-capture", target)
            body = body.replace("198.51.100.1:3269", portal).replace("Iface Name: default", "Iface Name: " + iface)
            out += re.sub(r"SID: \d+", "SID: %d" % sid, body)
        return out


@pytest.fixture
def fake(monkeypatch):
    f = FakeIscsiadm({"198.51.100.1:3260": [("198.51.100.1:3260", T), ("198.51.100.1:3260", OTHER)],
                      "[2001:db8::1]:3260": [("[2001:db8::1]:3260", T)]})
    monkeypatch.setattr(_devices, "wait_devices", lambda run, udevadm, sids, timeout: dict(
        (sid, [dict(lun=1, name="sd%s" % "bcd"[sid - 1], path="/dev/sdb", by_path="", wwid="")]) for sid in sids))
    monkeypatch.setattr(_devices, "session_devices", lambda sid: ([], True))
    return f


def run(monkeypatch, fake, check=False, **args):
    args = dict(dict(target=T, portals=["198.51.100.1"]), **args)
    args.update(_ansible_check_mode=check, _ansible_diff=True)
    before = len(fake.calls)
    result = run_main(monkeypatch, iscsi_initiator, args,
                      lambda self, argv, **kw: fake(self, argv, **kw),  # pylint: disable=unnecessary-lambda
                      bin_path=lambda n: "/usr/sbin/" + n)
    return result, fake.calls[before:]


def changing(calls):
    return [c for c in calls if any(x in c for x in ("--login", "--logout", "update", "new", "delete"))
            and "nonpersistent" not in c]


def test_login_names_the_portal_and_is_idempotent(monkeypatch, fake):
    r, calls = run(monkeypatch, fake, node_startup="automatic")
    assert r["changed"] and not r["failed"], r
    login = [c for c in calls if "--login" in c]
    assert login == [["iscsiadm", "-m", "node", "-T", T, "-p", "198.51.100.1:3260", "-I", "default", "--login"]]
    assert r["sessions"] == [dict(target=T, portal="198.51.100.1:3260", interface="default", sid=1,
                                  devices=[dict(lun=1, name="sdb", path="/dev/sdb", by_path="", wwid="")])]
    assert r["nodes"][0]["settings"]["node.startup"] == "automatic"
    assert "record: absent" in r["diff"]["before"] and "session: logged_in" in r["diff"]["after"]
    r, calls = run(monkeypatch, fake, node_startup="automatic")
    assert not r["changed"] and changing(calls) == [] and r["commands"] == []


def test_discovery_keeps_records_and_checks_first(monkeypatch, fake):
    r, calls = run(monkeypatch, fake, state="present")
    assert calls.index([c for c in calls if "nonpersistent" in c][0]) < calls.index(
        [c for c in calls if c[-3:] == ["-o", "new", "--discover"]][0])
    fake.records[(T, "198.51.100.1:3260", "default")]["node.startup"] = "automatic"
    del fake.records[(OTHER, "198.51.100.1:3260", "default")]
    r, calls = run(monkeypatch, fake, target=OTHER, state="present")
    assert r["changed"] and fake.records[(T, "198.51.100.1:3260", "default")]["node.startup"] == "automatic"


def test_target_not_returned_changes_nothing(monkeypatch, fake):
    r, calls = run(monkeypatch, fake, target="iqn.2024-01.lab.sanboot.test:nope",
                   discovery_chap=dict(username="d", password="dsecret-123456"))
    assert r["failed"] and r["option"] == "target" and "not at all" in r["msg"] and "t1, " in r["msg"]
    assert fake.records == {} and fake.ddb == {}, "the new discoverydb record was rolled back"
    assert "dsecret-123456" not in str(r)
    r, calls = run(monkeypatch, fake, portals=["198.51.100.9"])
    assert r["failed"] and "Connection refused" in r["stderr"] and fake.records == {}


def test_ipv6_and_two_portals_exact_tuples(monkeypatch, fake):
    r, calls = run(monkeypatch, fake, portals=["198.51.100.1", "[2001:db8::1]"], state="logged_in")
    assert not r["failed"], r
    assert sorted(fake.sessions) == [(T, "198.51.100.1:3260", "default"), (T, "[2001:db8::1]:3260", "default")]
    assert [s["portal"] for s in r["sessions"]] == ["198.51.100.1:3260", "[2001:db8::1]:3260"]
    r, calls = run(monkeypatch, fake, portals=["[2001:db8::1]"], state="logged_out")
    assert r["changed"] and fake.sessions == [(T, "198.51.100.1:3260", "default")], "only that portal"
    r, calls = run(monkeypatch, fake, portals=["198.51.100.1"], state="absent")
    assert (T, "198.51.100.1:3260", "default") not in fake.records and fake.sessions == []
    assert (T, "[2001:db8::1]:3260", "default") in fake.records


def test_link_local_portal_keeps_its_zone(monkeypatch, fake):
    # SendTargets returns TargetAddress without the zone (RFC 3720 §12.8): such records cannot connect
    fake.offered["[fe80::1%eth1]:3260"] = [("[fe80::1]:3260", T), ("[fe80::1]:3260", OTHER)]
    r, calls = run(monkeypatch, fake, portals=["[fe80::1%eth1]"], state="logged_in")
    assert r["changed"] and not r["failed"], r
    assert sorted(k[1] for k in fake.records) == ["[fe80::1%eth1]:3260"]
    assert fake.sessions == [(T, "[fe80::1%eth1]:3260", "default")]
    r, calls = run(monkeypatch, fake, portals=["[fe80::1%eth1]"], state="logged_in")
    assert not r["changed"] and changing(calls) == [], r["commands"]


def test_chap_secret_never_in_output(monkeypatch, fake):
    chap = dict(username="u", password=SECRET, mutual_username="t", mutual_password="other-123456")
    r, calls = run(monkeypatch, fake, chap=chap, state="present",
                   discovery_chap=dict(username="d", password="dsecret-123456"))
    assert r["changed"] and not r["failed"], r
    assert SECRET not in str(r) and "other-123456" not in str(r) and "dsecret-123456" not in str(r)
    assert fake.ddb[("198.51.100.1:3260", "default")]["discovery.sendtargets.auth.password"] == "dsecret-123456"
    assert fake.records[(T, "198.51.100.1:3260", "default")]["node.session.auth.password_in"] == "other-123456"
    r, calls = run(monkeypatch, fake, chap=chap, state="present", discovery_chap=dict(username="d", password="dsecret-123456"))
    assert not r["changed"], (r["commands"], fake.ddb)


def test_check_mode_changes_nothing(monkeypatch, fake):
    r, calls = run(monkeypatch, fake, check=True, node_startup="automatic")
    assert r["changed"] and fake.records == {} and fake.sessions == [] and changing(calls) == []
    assert ["iscsiadm", "-m", "node", "-T", T, "-p", "198.51.100.1:3260", "-I", "default", "--login"] in r["commands"]
    assert r["sessions"][0]["sid"] == 0


def test_bad_setting_key(monkeypatch, fake):
    run(monkeypatch, fake, state="present")
    r, calls = run(monkeypatch, fake, state="present", settings={"node.bogus": "1"})
    assert r["failed"] and "has no node.bogus" in r["msg"] and changing(calls) == []
    fake.records.clear()
    r, calls = run(monkeypatch, fake, state="present", settings={"node.bogus": "1"})
    assert r["failed"] and fake.records == {}, "the record made by this run was deleted again"


def test_bad_input_runs_nothing(monkeypatch, fake):
    for args in (dict(portals=["198.51.100.1:0"]), dict(target="iqn.bad"), dict(interface="../x"),
                 dict(chap=dict(username="u", password="short"))):
        r, calls = run(monkeypatch, fake, **args)
        assert r["failed"] and calls == [] and r["option"]


def test_masking_helper():
    assert _initiator.masked_argv(["-n", "node.session.auth.password_in", "-v", "x"])[-1] == "********"
