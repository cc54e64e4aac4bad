# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_node_plan: portals, request checks and the pure plan of iscsi_initiator."""

from __future__ import annotations

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _node_plan as np

T = "iqn.2024-01.lab.sanboot.test:t1"


@pytest.mark.parametrize("text,addr,port,shown", [
    ("198.51.100.1", "198.51.100.1", 3260, "198.51.100.1:3260"),
    ("198.51.100.1:3269", "198.51.100.1", 3269, "198.51.100.1:3269"),
    ("[2001:db8::1]:3261", "2001:db8::1", 3261, "[2001:db8::1]:3261"),
    ("[2001:DB8:0::1]", "2001:db8::1", 3260, "[2001:db8::1]:3260"),
    ("2001:db8::1", "2001:db8::1", 3260, "[2001:db8::1]:3260"),
    ("[fe80::1%eth1]:3260", "fe80::1%eth1", 3260, "[fe80::1%eth1]:3260"),
])
def test_portals(text, addr, port, shown):
    p = np.parse_portal(text)
    assert (p.addr, p.port, str(p)) == (addr, port, shown)


@pytest.mark.parametrize("text,why", [
    ("", "empty"), (" 10.0.0.1", "blanks"), ("10.0.0.1:", "without a port"), ("10.0.0.1:0", "port"),
    ("10.0.0.1:65536", "port"), ("10.0.0.1:32a", "port"), ("san.example:3260", "not an IP address"),
    ("[2001:db8::1", "without"), ("[2001:db8::1]3260", "junk"), ("fe80::1", "needs its %interface"),
    ("[2001:db8::1%eth0]:3260", "link-local"), ("10.0.0.1%eth0", "link-local"), ("999.1.1.1", "not an IP"),
])
def test_bad_portals(text, why):
    with pytest.raises(RequestError) as e:
        np.parse_portal(text, what="portals[1]")
    assert why in e.value.msg and e.value.option == "portals[1]" and "ADDR[:PORT]" in e.value.msg


def test_portal_of_open_iscsi_output():
    assert str(np.portal_of("fe80::1%lo", "3260")) == "[fe80::1%lo]:3260"
    assert str(np.portal_of("[fd00::1]", "3260")) == "[fd00::1]:3260"
    assert np.portal_of("127.0.0.1", "3269") == np.parse_portal("127.0.0.1:3269")


def req(**kw):
    return np.check_request(dict(dict(target=T, portals=["198.51.100.1"], discover=True), **kw))


def test_request_settings():
    r = req(node_startup="automatic", replacement_timeout=5, noop_out_interval=0,
            chap=dict(username="u", password="secret-123456", mutual_username="t", mutual_password="other-123456"),
            settings={"node.session.iscsi.FirstBurstLength": 65536, "node.session.iscsi.ImmediateData": True})
    assert r.settings == {
        "node.startup": "automatic", "node.session.timeo.replacement_timeout": "5",
        "node.conn[0].timeo.noop_out_interval": "0", "node.session.iscsi.FirstBurstLength": "65536",
        "node.session.iscsi.ImmediateData": "Yes", "node.session.auth.authmethod": "CHAP",
        "node.session.auth.username": "u", "node.session.auth.password": "secret-123456",
        "node.session.auth.username_in": "t", "node.session.auth.password_in": "other-123456"}
    assert r.interface == "default" and r.state == "logged_in" and r.wait_timeout == 30
    d = req(discovery_chap=dict(username="d", password="dsecret-123456")).discovery
    assert d["discovery.sendtargets.auth.password"] == "dsecret-123456"
    assert d["discovery.sendtargets.auth.username_in"] == ""


@pytest.mark.parametrize("kw,option,text", [
    (dict(target="iqn.2024.01.x:y"), "target", "RFC 3720"),
    (dict(target="nonsense"), "target", "must start with"),
    (dict(portals=[]), "portals", "at least one"),
    (dict(portals=["10.0.0.1", "10.0.0.1:3260"]), "portals[1]", "twice"),
    (dict(interface="-x"), "interface", "iface record name"),
    (dict(interface="a/b"), "interface", "iface record name"),
    (dict(chap=dict(username="u", password="short")), "chap.password", "RFC 3720 section 8.2.1"),
    (dict(chap=dict(username="u", password="same-secret-1", mutual_username="t",
                    mutual_password="same-secret-1")), "chap.mutual_password", "must differ"),
    (dict(discovery_chap=dict(username="u")), "discovery_chap.password", "go together"),
    (dict(discovery_chap=dict(username="u", password="secret-123456"), discover=False), "discovery_chap", "discover=false"),
    (dict(settings={"startup": "x"}), "settings", "not a node record key"),
    (dict(settings={"node.session.auth.password": "x"}), "settings", "own option"),
    (dict(settings={"node.conn[0].address": "x"}), "settings", "names the record"),
    (dict(settings={"node.startup": "manual"}, node_startup="automatic"), "settings", "contradicts"),
    (dict(settings={"node.session.iscsi.ERL": "1\n2"}), "settings", "one line"),
    (dict(replacement_timeout=-1), "replacement_timeout", "outside"),
    (dict(wait_timeout=-1), "wait_timeout", "negative"),
])
def test_request_refusals(kw, option, text):
    with pytest.raises(RequestError) as e:
        req(**kw)
    assert e.value.option == option and text in e.value.msg


P1, P2 = np.parse_portal("198.51.100.1"), np.parse_portal("[2001:db8::1]:3260")


def test_plan_logged_in():
    r = req(portals=[str(P1), str(P2)], node_startup="automatic")
    records = {P1: {"node.startup": "manual"}, P2: None}
    steps = np.plan(r, records, {})
    assert steps == [("update", P1, [("node.startup", "automatic")]), ("login", P1, []),
                     ("create", P2, []), ("update", P2, [("node.startup", "automatic")]), ("login", P2, [])]
    records = {P1: {"node.startup": "automatic"}, P2: {"node.startup": "automatic"}}
    assert np.plan(r, records, {P1: {}, P2: {}}) == []


def test_plan_other_states():
    records = {P1: {"node.startup": "manual"}, P2: None}
    r = req(portals=[str(P1), str(P2)], state="present")
    assert np.plan(r, records, {}) == [("create", P2, [])]
    r = req(portals=[str(P1), str(P2)], state="logged_out")
    assert np.plan(r, records, {P1: {}}) == [("logout", P1, [])]
    assert np.plan(r, records, {}) == []
    r = req(portals=[str(P1), str(P2)], state="absent")
    assert np.plan(r, records, {P1: {}}) == [("logout", P1, []), ("delete", P1, [])]


def test_redaction_and_describe():
    r = req(chap=dict(username="u", password="secret-123456"), node_startup="manual")
    rec = {"node.startup": "manual", "node.session.auth.password": "old-secret-1234",
           "node.session.auth.username": "u", "node.session.iscsi.ERL": "0"}
    assert np.redacted(rec)["node.session.auth.password"] == "********"
    text = np.describe(r, {P1: rec}, {P1: {}}, {P1: {"node.session.auth.password"}})
    assert "session: logged_in" in text and "******** (changed)" in text
    assert "old-secret" not in text and "node.session.iscsi.ERL" not in text
    assert np.describe(r, {P1: None}, {}) == "%s 198.51.100.1:3260 -I default:\n  record: absent\n" % T
