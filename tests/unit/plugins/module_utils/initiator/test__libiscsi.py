# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of _libiscsi against outputs captured from libiscsi 1.19 / qemu-io 7.2 / tgtd 1.0.85."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _libiscsi as L

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "libiscsi")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))


def capture(name):
    """stdout + stderr of a captured run (files absent when the stream was empty)."""
    text = ""
    for stream in ("stdout", "stderr"):
        path = os.path.join(FIXTURES, "%s.%s" % (name, stream))
        if os.path.exists(path):
            with open(path) as handle:
                text += handle.read()
    return text


@pytest.mark.parametrize("portal,expected", [
    ("198.51.100.10", ("198.51.100.10", 3260)),
    ("198.51.100.10:3271", ("198.51.100.10", 3271)),
    ("[2001:db8::1]:3261", ("2001:db8::1", 3261)),
    ("[2001:db8::1]", ("2001:db8::1", 3260)),
    ("target1.example", ("target1.example", 3260)),
])
def test_split_portal(portal, expected):
    assert L.split_portal(portal) == expected


@pytest.mark.parametrize("portal", ["", "2001:db8::1", "host:0", "host:99999", "[2001:db8::1", "h:x"])
def test_split_portal_rejects(portal):
    with pytest.raises(ValueError):
        L.split_portal(portal)


def test_urls():
    assert L.iscsi_url("198.51.100.10", 3260) == "iscsi://198.51.100.10:3260"
    assert L.iscsi_url("2001:db8::1", 3260, "iqn.2025-01.x:t", 2) == "iscsi://[2001:db8::1]:3260/iqn.2025-01.x:t/2"


@pytest.mark.parametrize("name,status,refused", [
    ("inq_nochap", 513, True),        # no CHAP offered: authentication failure 0x0201
    ("inq_badpw", 513, True),         # wrong secret
    ("inq_wrongname", 515, True),     # ACL does not admit the name: tgt says "not found" 0x0203
    ("ls_nochap", 513, True),
    ("qemuio_nochap", 513, True),
    ("qemuio_wrongname", 515, True),
])
def test_login_refusals(name, status, refused):
    failure = L.login_failure(capture(name))
    assert failure["status"] == status and failure["refused"] is refused


@pytest.mark.parametrize("name", ["inq_noportal", "rc16_noportal", "ls_noportal", "qemuio_noportal",
                                  "inq_nolun", "rc16_nolun", "inq_ok"])
def test_not_refusals(name):
    """No answer, or an unknown LUN after a good login, is not a refusal."""
    assert L.login_failure(capture(name)) is None


def test_target_error_class_is_not_refusal():
    assert L.login_failure("Status: Service unavailable(769)")["refused"] is False


def test_parse_discovery_plain_and_luns():
    assert [t["target"] for t in L.parse_discovery(capture("ls_plain"))] == [
        "iqn.2025-01.lab.sanboot:scratch", "iqn.2025-01.lab.sanboot:probe"]
    (target,) = L.parse_discovery(capture("ls_ok"))
    assert target["portal"] == "127.0.0.1:3271" and target["tpgt"] == 1
    assert target["luns"] == [
        dict(lun=0, type="STORAGE_ARRAY_CONTROLLER", size=None),
        dict(lun=1, type="DIRECT_ACCESS", size="63M"),
        dict(lun=2, type="DIRECT_ACCESS", size="31M"),
    ]
    assert L.parse_discovery(capture("ls_wrongname")) == []


def test_parse_inquiry():
    assert L.parse_inquiry(capture("inq_ok")) == dict(
        vendor="IET", product="VIRTUAL-DISK", revision="0001", device_type="DIRECT_ACCESS")
    with pytest.raises(ValueError):
        L.parse_inquiry(capture("inq_nochap"))


def test_parse_readcapacity16():
    assert L.parse_readcapacity16(capture("rc16_ok")) == dict(
        last_lba=131071, block_size=512, size_bytes=64 * 1024 * 1024)
    assert L.parse_readcapacity16(capture("rc16_lun2"))["size_bytes"] == 32 * 1024 * 1024
    with pytest.raises(ValueError):
        L.parse_readcapacity16(capture("rc16_nolun"))
    with pytest.raises(ValueError):
        L.parse_readcapacity16("RETURNED LOGICAL BLOCK ADDRESS:1\nLOGICAL BLOCK LENGTH IN BYTES:512\n"
                               "Total size:4096\n")


def test_parse_hexdump_and_wrote():
    data = L.parse_hexdump(capture("qemuio_read_v"))
    assert len(data) == 64 and data[:4] == bytes([0xd0, 0x36, 0xd8, 0x19])
    assert L.wrote_bytes(capture("qemuio_write")) == 4096
    assert L.wrote_bytes(capture("qemuio_nochap")) == 0


def test_image_opts():
    opts = L.image_opts("198.51.100.10", 3260, "iqn.2025-01.x:t", 1, "iqn.2025-01.x:i", "u,1", "sec0")
    assert opts == ("driver=iscsi,transport=tcp,portal=198.51.100.10:3260,target=iqn.2025-01.x:t,"
                    "lun=1,initiator-name=iqn.2025-01.x:i,user=u,,1,password-secret=sec0")
    assert "user=" not in L.image_opts("h", 3260, "t", 1, "i")


def test_cunit_results_and_known_failures():
    with open(os.path.join(FIXTURES, "cunit-results-tgt-1.0.85.xml")) as handle:
        results = L.parse_cunit_results(handle.read())
    assert results["total"] == 230 and results["run"] == 230
    with open(os.path.join(ROOT, "tests", "conformance", "tgt-known-failures.txt")) as handle:
        known = L.parse_known_failures(handle.read())
    assert results["failed"] == known
    assert len(known) == 8


def test_known_failures_comments():
    assert L.parse_known_failures("# c\nB.x  # why\n\nA.y\n") == ["A.y", "B.x"]


def test_chap_environment_restores(monkeypatch):
    monkeypatch.setenv("LIBISCSI_CHAP_USERNAME", "before")
    monkeypatch.delenv("LIBISCSI_CHAP_PASSWORD", raising=False)
    with L._chap_environment(dict(username="u", password="secretsecret")):
        assert os.environ["LIBISCSI_CHAP_PASSWORD"] == "secretsecret"
    assert os.environ["LIBISCSI_CHAP_USERNAME"] == "before"
    assert "LIBISCSI_CHAP_PASSWORD" not in os.environ
    with L._chap_environment(None):
        assert "LIBISCSI_CHAP_USERNAME" not in os.environ


def probe_params(**kw):
    from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import validate as validate_iqn
    p = dict(portal="198.51.100.10", target="iqn.2025-01.lab.sanboot:t1", lun=1,
             initiator_name="iqn.2025-01.lab.sanboot:c1", chap=None, write_length=4096,
             write_offset=None, timeout=60)
    p.update(kw)
    return p, validate_iqn


@pytest.mark.parametrize("kw, words", [
    (dict(portal="-oProxy"), "portal: '-oProxy' is neither"),
    (dict(portal="evil@198.51.100.10"), "portal: "), (dict(portal="host/path"), "portal: "),
    (dict(portal="a b"), "portal: "), (dict(portal="host?x=1"), "portal: "),
    (dict(portal="198.51.100.10:0"), "portal: "), (dict(portal="target1\n"), "portal: "),
    (dict(target="-iqn"), "target"), (dict(lun=-1), "lun: -1"), (dict(lun=16384), "lun: 16384"),
    (dict(chap={"username": "", "password": "secretsecret12"}), "chap.username"),
    (dict(chap={"username": "u\n", "password": "secretsecret12"}), "chap.username"),
    (dict(chap={"username": "u", "password": "secret\x00secret"}), "chap.password"),
    (dict(write_length=0), "write_length: 0"), (dict(timeout=0), "timeout: 0"),
    (dict(write_offset=-512), "write_offset"),
])
def test_check_request_refuses(kw, words):
    params, validate_iqn = probe_params(**kw)
    with pytest.raises(ValueError, match=words):
        L.check_request(params, validate_iqn)


def test_check_request_accepts_names_and_addresses():
    for portal in ("198.51.100.10:3260", "[2001:db8::1]:3260", "target1.lab.example", "target1"):
        params, validate_iqn = probe_params(portal=portal)
        assert L.check_request(params, validate_iqn) == []
