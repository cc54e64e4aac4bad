"""Unit tests for _target_spec (validation of the iscsi_target request)."""

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils._target_spec import (
    SpecError, normalise, to_yaml)

T = "iqn.2024-01.lab.sanboot:t1"
I1 = "iqn.2024-01.lab.sanboot:client1"


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "a.img"
    p.write_bytes(b"\0" * 4096)
    return str(p)


def params(**kw):
    base = dict(name=T, targets=None, state="present", luns=[], initiators=[],
                initiator_addresses=[], allow_all=False, chap=None)
    base.update(kw)
    return base


def err(p, *words, **kw):
    with pytest.raises(SpecError) as e:
        normalise(p, **kw)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


def test_normalise_ok(disk, tmp_path):
    (tmp_path / "b.img").write_bytes(b"")
    specs, warns = normalise(params(name=T.upper(), luns=[{"lun": 2, "path": disk},
                                                          {"lun": 1, "path": str(tmp_path) + "/x/../b.img"}],
                                    initiators=[I1]))
    s = specs[0]
    assert s.name == T and [x.lun for x in s.luns] == [1, 2] and s.luns[1].path == disk
    assert s.luns[0].path == str(tmp_path / "b.img") and s.luns[0].type == "fileio"
    assert s.initiators == [I1] and any("lower case" in w for w in warns)


def test_bad_iqn_names_option():
    err(params(name="iqn.2008.06.biz.frode:storage.vmware"), "name:", "dash")
    err(params(initiators=["iqn.2024-01.x:a", "bad"]), "initiators[1]")


@pytest.mark.parametrize("lun", [0, 256, -1, True, "1"])
def test_lun_range(disk, lun):
    err(params(luns=[{"lun": lun, "path": disk}]), "luns[0].lun", "1-255")


def test_luns_duplicates_and_paths(disk, tmp_path):
    err(params(luns=[{"lun": 1, "path": disk}, {"lun": 1, "path": disk}]), "twice")
    err(params(luns=[{"lun": 1, "path": disk}, {"lun": 2, "path": disk}]), "read-only")
    normalise(params(luns=[{"lun": 1, "path": disk, "readonly": True},
                           {"lun": 2, "path": disk, "readonly": True}]))
    err(params(luns=[{"lun": 1, "path": str(tmp_path / "nope")}]), "luns[0].path", "does not exist")
    err(params(luns=[{"lun": 1, "path": str(tmp_path)}]), "directory")
    err(params(luns=[{"lun": 1, "path": "rel.img"}]), "absolute")
    err(params(luns=[{"lun": 1, "path": disk, "type": "blockio"}]), "block device",
        provider="ietd")
    normalise(params(luns=[{"lun": 1, "path": disk, "type": "blockio"}]))  # tgt: O_DIRECT on a file
    err(params(luns=[{"lun": 1, "path": disk, "serial": "a b"}]), "serial")


def test_acl_rules():
    msg = err(params(initiators=[I1], initiator_addresses=["10.0.0.0/8"]), "initiator_addresses",
              "OR", "ANY initiator name")
    assert "tgt" in msg
    err(params(allow_all=True, initiators=[I1]), "allow_all")
    err(params(initiator_addresses=["ALL"]), "allow_all: true")
    err(params(initiator_addresses=["10.0.0.300"]), "initiator_addresses[0]")
    err(params(initiator_addresses=["10.1.0.0/8"]), "host bits")
    s = normalise(params(initiator_addresses=["198.51.100.0/25", "198.51.100.7/32",
                                              "2001:db8::1"]))[0][0]
    assert s.addresses == ["198.51.100.0/25", "198.51.100.7", "2001:db8::1"]
    specs, warns = normalise(params())
    assert any("admits no initiator" in w for w in warns)


def test_chap_rules():
    ok = dict(username="u", password="x" * 12)
    assert normalise(params(chap=ok, initiators=[I1]))[0][0].chap == ok
    err(params(chap=dict(username="u", password="x" * 11)), "chap.password", "RFC 3720", "12")
    err(params(chap=dict(username="u")), "chap.password", "go together")
    err(params(chap=dict(ok, mutual_username="m", mutual_password="x" * 12)),
        "chap.mutual_password", "differ")
    err(params(chap=dict(mutual_username="m", mutual_password="y" * 12)), "needs username")
    err(params(chap=dict(username="u", password="x" * 11 + " ")), "blanks")
    w = normalise(params(chap=dict(username="u", password="x" * 17), initiators=[I1]))[1]
    assert any("longer than 16" in x for x in w)
    assert normalise(params(chap=dict(username=None, password=None)))[0][0].chap is None


def test_targets_list(disk):
    p = params(name=None, targets=[
        dict(name=T, luns=[{"lun": 1, "path": disk}], initiators=[I1]),
        dict(name="iqn.2024-01.lab.sanboot:t2", state="absent")])
    specs = normalise(p)[0]
    assert [s.state for s in specs] == ["present", "absent"]
    p["targets"].append(dict(name="iqn.2024-01.lab.sanboot:t3", luns=[{"lun": 1, "path": disk}],
                             allow_all=True))
    err(p, "read-only", "t3 LUN 1")
    err(params(name=None, targets=[dict(name=T), dict(name=T.upper())]), "listed twice")
    err(params(targets=[dict(name=T)]), "mutually exclusive")
    err(params(name=None, targets=[dict(name="bad")]), "targets[0].name")


def test_to_yaml():
    text = to_yaml([{"name": T, "luns": [{"lun": 1, "path": "/a b"}], "x": [], "y": None,
                     "z": True}])
    assert text == ('- name: %s\n  luns:\n    - lun: 1\n      path: "/a b"\n  x: []\n'
                    '  y: null\n  z: true\n' % T)
