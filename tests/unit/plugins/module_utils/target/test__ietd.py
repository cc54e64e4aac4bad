"""Unit tests for _ietd: rendered IET files (other targets kept), /proc parsers, ietadm commands."""

import os
import stat

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.target import _ietd
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import Lun, TargetSpec

T = "iqn.2024-01.lab.sanboot:legacy"
C1 = "iqn.2024-01.lab.sanboot:client1"
CONF = """# global
IncomingUser disc discoverysecret1

Target iqn.2001-04.com.example:other
\tLun 0 Path=/dev/vg0/other,Type=blockio
\tAlias other

Target iqn.2024-01.lab.sanboot:legacy
\tLun 0 Path=/old,Type=fileio
"""


def spec(**kw):
    args = dict(luns=[Lun(1, "/srv/a.img"), Lun(2, "/dev/vg0/b", "blockio", True, "SN2")],
                initiators=[C1], chap=dict(username="u", password="incomingsec1",
                                           mutual_username="m", mutual_password="mutualsecre1"))
    args.update(kw)
    return TargetSpec(T, **args)


def test_render_target():
    assert _ietd.render_target(spec(), alias="legacy") == (
        "Target %s\n\tAlias legacy\n\tLun 1 Path=/srv/a.img,Type=fileio\n"
        "\tLun 2 Path=/dev/vg0/b,Type=blockio,IOMode=ro,ScsiSN=SN2\n"
        "\tIncomingUser u incomingsec1\n\tOutgoingUser m mutualsecre1\n" % T)


def test_update_conf_keeps_others():
    new = _ietd.update_conf(CONF, [spec()])
    assert new.startswith("# global\nIncomingUser disc discoverysecret1\n\nTarget iqn.2001-04.com.example:other\n")
    assert "\tAlias other\n" in new and "Path=/old" not in new
    assert new.count("Target %s" % T) == 1
    assert _ietd.update_conf(new, [spec()]) == new
    gone = _ietd.update_conf(new, [TargetSpec(T, "absent")])
    assert T not in gone and "example:other" in gone
    assert "example:other" not in _ietd.update_conf(new, [spec()], purge=True)
    assert _ietd.update_conf("", [spec()]) == _ietd.render_target(spec())


def test_acl_files():
    allow = "# allow\niqn.2001-04.com.example:other 10.0.0.0/8\n%s 1.2.3.4\n" % T
    new = _ietd.update_acl(allow, [spec()], "allow")
    assert new == "# allow\niqn.2001-04.com.example:other 10.0.0.0/8\n%s %s\n" % (T, C1)
    assert _ietd.update_acl(new, [spec()], "allow") == new
    addr = _ietd.update_acl("", [spec(initiators=[], addresses=["10.0.0.0/8", "2001:db8::1"])], "allow")
    assert addr == "%s 10.0.0.0/8, [2001:db8::1]\n" % T
    assert _ietd.update_acl("", [spec(initiators=[], allow_all=True)], "allow") == "%s ALL\n" % T
    # nobody else: the deny file refuses what the allow file does not admit
    assert _ietd.update_acl("ALL ALL\n", [spec()], "deny") == "ALL ALL\n%s ALL\n" % T
    assert _ietd.update_acl("%s ALL\n" % T, [spec(allow_all=True, initiators=[])], "deny") == ""
    assert _ietd.update_acl(new, [TargetSpec(T, "absent")], "allow") == \
        "# allow\niqn.2001-04.com.example:other 10.0.0.0/8\n"


def test_redact():
    text = _ietd.redact(_ietd.render_target(spec()))
    assert "incomingsec1" not in text and "IncomingUser u ********" in text
    assert _ietd.redact_argv(["--params=IncomingUser=u,Password=s3cr3t"]) == [
        "--params=IncomingUser=u,Password=********"]


VOLUME = """tid:2 name:iqn.2024-01.lab.sanboot:legacy
\tlun:1 state:0 iotype:fileio iomode:wt blocks:131072 blocksize:512 path:/srv/a.img
tid:1 name:iqn.2001-04.com.example:other
\tlun:0 state:0 iotype:blockio iomode:wt path:/dev/vg0/other
"""
SESSION = """tid:2 name:iqn.2024-01.lab.sanboot:legacy
\tsid:281474997486080 initiator:iqn.2024-01.lab.sanboot:client1
\t\tcid:0 ip:198.51.100.20 state:active hd:none dd:none
tid:1 name:iqn.2001-04.com.example:other
"""


def test_proc_parsers():
    vols = _ietd.parse_volumes(VOLUME)
    assert vols[T] == dict(tid=2, luns=[dict(lun=1, path="/srv/a.img", iotype="fileio", iomode="wt")])
    assert _ietd.parse_sessions(SESSION) == {
        T: [dict(initiator=C1, address="198.51.100.20")], "iqn.2001-04.com.example:other": []}


def test_live_commands():
    vols, sess = _ietd.parse_volumes(VOLUME), _ietd.parse_sessions(SESSION)
    with pytest.raises(_ietd.IetError, match="active session"):
        _ietd.live_commands("ietadm", [spec()], {T}, vols, sess)
    cmds = _ietd.live_commands("ietadm", [spec()], {T}, vols, sess, force=True)
    assert cmds[:3] == [["ietadm", "--op", "delete", "--tid=2"],
                        ["ietadm", "--op", "new", "--tid=2", "--params", "Name=%s" % T],
                        ["ietadm", "--op", "new", "--tid=2", "--lun=1", "--params",
                         "Path=/srv/a.img,Type=fileio"]]
    assert cmds[-1] == ["ietadm", "--op", "new", "--tid=2", "--user",
                        "--params=OutgoingUser=m,Password=mutualsecre1"]
    assert _ietd.live_commands("ietadm", [spec()], set(), vols, {}) == []
    new = _ietd.live_commands("ietadm", [TargetSpec("iqn.2024-01.x:n")], set(), vols, {})
    assert new == [["ietadm", "--op", "new", "--tid=3", "--params", "Name=iqn.2024-01.x:n"]]


class FakeModule(object):
    check_mode, _diff = False, False

    def __init__(self, config_dir):
        self.params = dict(config_dir=config_dir, purge=False, force=False, name=T)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class NoIetadm(object):
    def which(self, name, required=True):
        return None


def test_files_written_atomically_with_their_modes(tmp_path):
    d = tmp_path / "etc" / "iet"                     # missing: created by the writer
    old = os.umask(0o077)
    try:
        result = _ietd.converge(FakeModule(str(d)), NoIetadm(), [spec()], [])
    finally:
        os.umask(old)
    modes = dict((n, stat.S_IMODE(os.stat(str(d / n)).st_mode)) for n in sorted(os.listdir(str(d))))
    assert modes == {"ietd.conf": 0o600, "initiators.allow": 0o644, "initiators.deny": 0o644}
    assert result["changed"] and "Target %s" % T in (d / "ietd.conf").read_text()
