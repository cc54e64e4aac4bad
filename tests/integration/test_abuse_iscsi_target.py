# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Abuse table of sanboot.lab.iscsi_target: hostile input is refused by name and changes nothing.

A real tgtd (control port 60, portal 127.0.0.1:3270) seeded with one target (a read-write LUN, an
ACL, a CHAP account, its persisted file) and a real vblade exporting another store read-write
(in a network namespace of its own), so that "nothing changed" means something.  Watched by
``_abuse.assert_refused``: the persisted config dirs, the stores, the tgtd's targets and accounts.
The daemons are watched by PID here (other engineers' tgtds come and go on this host).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _abuse import assert_refused  # noqa: E402  pylint: disable=wrong-import-position
from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-position
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-position
from _vblade_ns import VbladeNs  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.integration

CONTROL, PORTAL = 60, "127.0.0.1:3270"
SEED = "iqn.2024-01.lab.sanboot.abuse:seed"
T = "iqn.2024-01.lab.sanboot.abuse:t1"
CLIENT = "iqn.2024-01.lab.sanboot.abuse:client"
CHAP = dict(username="abuser", password="abuse-secret-1")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("abuse_iscsi")
    stores = base / "stores"
    stores.mkdir()
    for name in ("seed", "fresh", "aoe", "x"):
        with open(str(stores / (name + ".img")), "wb") as f:
            f.truncate(4 * MIB)
    (stores / "dir").mkdir()
    os.link(str(stores / "seed.img"), str(stores / "seed-hard.img"))
    (stores / "seed-sym.img").symlink_to(stores / "seed.img")
    os.link(str(stores / "aoe.img"), str(stores / "aoe-hard.img"))
    os.link(str(stores / "fresh.img"), str(stores / "fresh-hard.img"))
    (stores / "shadow.img").symlink_to("/etc/shadow")
    for name in ("nl\nname.img", "tab\tname.img", "space name.img", "hash#name.img"):
        (stores / name).write_bytes(b"\0" * 4096)
    tgtd = Tgtd(CONTROL, PORTAL).start()
    aoe = VbladeNs("abuse60", 60, 1, str(stores / "aoe.img"))
    try:
        aoe.start()
        lab = dict(stores=str(stores), conf=str(base / "conf.d"), ietd=str(base / "iet"), tgtd=tgtd,
                   aoe=aoe)
        seed = run_module("iscsi_target", dict(
            name=SEED, control_port=CONTROL, config_dir=lab["conf"],
            luns=[dict(lun=1, path=str(stores / "seed.img"))], initiators=[CLIENT],
            chap=dict(username="seeduser", password="seed-secret-12")), str(base))
        assert seed.get("changed") and not seed.get("failed"), seed
        yield lab
    finally:
        aoe.stop()
        tgtd.stop()


def S(lab, name):
    return os.path.join(lab["stores"], name)


def base(lab, **kw):
    args = dict(name=T, control_port=CONTROL, config_dir=lab["conf"],
                luns=[dict(lun=1, path=S(lab, "fresh.img"))], initiators=[CLIENT], chap=dict(CHAP))
    args.update(kw)
    return args


def lun(path_or_name, **kw):
    return [dict(dict(lun=1, path=path_or_name), **kw)]


# (id, function lab -> args, option the error must name)
TGT_CASES = [
    ("name-no-prefix", lambda l: base(l, name="lab.sanboot:t1"), "name"),
    ("name-dot-date", lambda l: base(l, name="iqn.2024.01.lab.sanboot:t1"), "name"),
    ("name-upper-underscore", lambda l: base(l, name="IQN.2024-01.LAB_SANBOOT:T1"), "name"),
    ("name-too-long", lambda l: base(l, name="iqn.2024-01.lab.sanboot:" + "a" * 200), "name"),
    ("name-newline", lambda l: base(l, name=T + "\nincominguser x y"), "name"),
    ("name-bad-eui", lambda l: base(l, name="eui.12345"), "name"),
    ("names-equal-after-folding", lambda l: dict(
        control_port=CONTROL, config_dir=l["conf"],
        targets=[dict(name=T, allow_all=True), dict(name=T.upper(), allow_all=True)]), "targets"),
    ("lun-0", lambda l: base(l, luns=[dict(lun=0, path=S(l, "fresh.img"))]), "luns[0].lun"),
    ("lun-256", lambda l: base(l, luns=[dict(lun=256, path=S(l, "fresh.img"))]), "luns[0].lun"),
    ("lun-negative", lambda l: base(l, luns=[dict(lun=-1, path=S(l, "fresh.img"))]), "luns[0].lun"),
    ("lun-twice", lambda l: base(l, luns=[dict(lun=1, path=S(l, "fresh.img")),
                                          dict(lun=1, path=S(l, "x.img"))]), "luns[1].lun"),
    ("path-missing", lambda l: base(l, luns=lun(S(l, "missing.img"))), "luns[0].path"),
    ("path-directory", lambda l: base(l, luns=lun(S(l, "dir"))), "luns[0].path"),
    ("path-relative", lambda l: base(l, luns=lun("fresh.img")), "luns[0].path"),
    ("path-dev-null", lambda l: base(l, luns=lun("/dev/null")), "luns[0].path"),
    ("path-etc-passwd", lambda l: base(l, luns=lun("/etc/passwd")), "luns[0].path"),
    ("path-symlink-to-etc-shadow", lambda l: base(l, luns=lun(S(l, "shadow.img"))), "luns[0].path"),
    ("path-root-disk", lambda l: base(l, luns=lun("/dev/vda")), "luns[0].path"),
    ("path-hard-link-to-seed-rw", lambda l: base(l, luns=lun(S(l, "seed-hard.img"))), "luns"),
    ("path-symlink-to-seed-rw", lambda l: base(l, luns=lun(S(l, "seed-sym.img"))), "luns"),
    ("path-hard-link-readonly-to-seed-rw", lambda l: base(l, luns=lun(S(l, "seed-hard.img"),
                                                                      readonly=True)), "luns"),
    ("path-vblade-rw", lambda l: base(l, luns=lun(S(l, "aoe.img"))), "luns"),
    ("path-hard-link-to-vblade-rw", lambda l: base(l, luns=lun(S(l, "aoe-hard.img"))), "luns"),
    ("path-twice-in-request", lambda l: base(l, luns=[dict(lun=1, path=S(l, "fresh.img")),
                                                      dict(lun=2, path=S(l, "fresh-hard.img"))]),
     "luns"),
    ("path-newline", lambda l: base(l, luns=lun(S(l, "nl\nname.img"))), "luns[0].path"),
    ("path-tab", lambda l: base(l, luns=lun(S(l, "tab\tname.img"))), "luns[0].path"),
    ("path-space", lambda l: base(l, luns=lun(S(l, "space name.img"))), "luns[0].path"),
    ("path-hash", lambda l: base(l, luns=lun(S(l, "hash#name.img"))), "luns[0].path"),
    ("path-shell", lambda l: base(l, luns=lun(S(l, "x.img") + "$(touch /tmp/sbt-pwned)")),
     "luns[0].path"),
    ("serial-newline", lambda l: base(l, luns=lun(S(l, "fresh.img"), serial="S1\n")), "luns[0].serial"),
    ("serial-too-long", lambda l: base(l, luns=lun(S(l, "fresh.img"), serial="S" * 37)),
     "luns[0].serial"),
    ("initiator-newline", lambda l: base(l, initiators=[CLIENT + "\n"]), "initiators[0]"),
    ("initiator-bad", lambda l: base(l, initiators=["client1"]), "initiators[0]"),
    ("initiator-twice", lambda l: base(l, initiators=[CLIENT, CLIENT]), "initiators"),
    ("address-everyone-v4", lambda l: base(l, initiators=[], initiator_addresses=["0.0.0.0/0"]),
     "initiator_addresses[0]"),
    ("address-everyone-v6", lambda l: base(l, initiators=[], initiator_addresses=["::/0"]),
     "initiator_addresses[0]"),
    ("address-ALL", lambda l: base(l, initiators=[], initiator_addresses=["ALL"]),
     "initiator_addresses[0]"),
    ("address-bad-cidr", lambda l: base(l, initiators=[], initiator_addresses=["10.0.0.0/33"]),
     "initiator_addresses[0]"),
    ("address-host-bits", lambda l: base(l, initiators=[], initiator_addresses=["10.1.2.3/8"]),
     "initiator_addresses[0]"),
    ("address-newline", lambda l: base(l, initiators=[], initiator_addresses=["127.0.0.1\n"]),
     "initiator_addresses[0]"),
    ("initiators-and-addresses", lambda l: base(l, initiator_addresses=["127.0.0.1"]),
     "initiator_addresses"),
    ("allow-all-and-initiators", lambda l: base(l, allow_all=True), "allow_all"),
    ("chap-user-newline", lambda l: base(l, chap=dict(CHAP, username="abuser\nx")), "chap.username"),
    ("chap-password-nul-ish", lambda l: base(l, chap=dict(CHAP, password="abuse\x01secret-1")),
     "chap.password"),
    ("chap-password-short", lambda l: base(l, chap=dict(CHAP, password="short-11ch")), "chap.password"),
    ("chap-password-long", lambda l: base(l, chap=dict(CHAP, password="p" * 300)), "chap.password"),
    ("chap-password-shell", lambda l: base(l, chap=dict(CHAP, password="abuse;reboot-1")),
     "chap.password"),
    ("chap-password-hash", lambda l: base(l, chap=dict(CHAP, password="abuse#secret-1")),
     "chap.password"),
    ("chap-mutual-same", lambda l: base(l, chap=dict(CHAP, mutual_username="tgt",
                                                     mutual_password=CHAP["password"])),
     "chap.mutual_password"),
    ("chap-mutual-alone", lambda l: base(l, chap=dict(mutual_username="tgt",
                                                      mutual_password="mutual-secret-1")),
     "chap.mutual_username"),
    ("chap-password-without-user", lambda l: base(l, chap=dict(password="abuse-secret-1")),
     "chap.username"),
    ("chap-steals-seed-account", lambda l: base(l, chap=dict(username="seeduser",
                                                             password="other-secret-12")), "chap"),
    ("portal-no-address", lambda l: base(l, portals=["localhost"]), "portals[0]"),
    ("portal-port-range", lambda l: base(l, portals=["127.0.0.1:70000"]), "portals[0]"),
    ("control-port-negative", lambda l: base(l, control_port=-1), "control_port"),
    ("control-port-no-tgtd", lambda l: base(l, control_port=69), "control_port"),
    ("purge-with-name", lambda l: base(l, purge=True), "purge"),
    ("purge-empty-targets", lambda l: dict(control_port=CONTROL, config_dir=l["conf"], targets=[],
                                           purge=True), "purge"),
    ("config-dir-newline", lambda l: base(l, config_dir=l["conf"] + "\nx"), "config_dir"),
]

IETD_CASES = [
    ("ietd-name-bad", lambda l: base(l, name="iqn.2024.01.x:t"), "name"),
    ("ietd-path-comma", lambda l: base(l, luns=lun(S(l, "fresh.img") + ",Type=blockio")),
     "luns[0].path"),
    ("ietd-path-newline", lambda l: base(l, luns=lun(S(l, "nl\nname.img"))), "luns[0].path"),
    ("ietd-blockio-file", lambda l: base(l, luns=lun(S(l, "fresh.img"), type="blockio")),
     "luns[0].type"),
    ("ietd-everyone", lambda l: base(l, initiators=[], initiator_addresses=["0.0.0.0/0"]),
     "initiator_addresses[0]"),
    ("ietd-chap-short", lambda l: base(l, chap=dict(CHAP, password="short")), "chap.password"),
    ("ietd-lun-0", lambda l: base(l, luns=[dict(lun=0, path=S(l, "fresh.img"))]), "luns[0].lun"),
    ("ietd-etc-passwd", lambda l: base(l, luns=lun("/etc/passwd")), "luns[0].path"),
]


def _watch(lab):
    return dict(paths=[lab["conf"], lab["ietd"], lab["stores"], "/tmp/sbt-pwned"],
                tgtd_ports=[CONTROL], daemons=False)


def _daemons_alive(lab):
    assert lab["tgtd"].proc.poll() is None and lab["aoe"].proc.poll() is None


@pytest.mark.parametrize("case", TGT_CASES, ids=[c[0] for c in TGT_CASES])
def test_tgt_refuses(lab, case, tmp_path):
    dummy, make, option = case
    res = assert_refused("iscsi_target", make(lab), option, tmp_path, watch=_watch(lab))
    print(res["msg"])
    _daemons_alive(lab)


@pytest.mark.parametrize("case", IETD_CASES, ids=[c[0] for c in IETD_CASES])
def test_ietd_refuses(lab, case, tmp_path):
    dummy, make, option = case
    args = dict(make(lab), provider="ietd", config_dir=lab["ietd"])
    args.pop("control_port")
    assert_refused("iscsi_target", args, option, tmp_path, watch=_watch(lab))
    _daemons_alive(lab)


def test_the_seed_is_still_served(lab, tmp_path):
    """The refusals left the seeded target as it was: the same request changes nothing."""
    res = run_module("iscsi_target", dict(
        name=SEED, control_port=CONTROL, config_dir=lab["conf"],
        luns=[dict(lun=1, path=S(lab, "seed.img"))], initiators=[CLIENT],
        chap=dict(username="seeduser", password="seed-secret-12")), str(tmp_path))
    assert res.get("changed") is False and not res.get("failed"), res
