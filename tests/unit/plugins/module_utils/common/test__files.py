# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one atomic writer and root containment (_files)."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common import _files


def mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def test_write_in_creates_directories_and_sets_the_mode_at_creation(tmp_path):
    root = tmp_path / "img"
    root.mkdir()
    old = os.umask(0o077)
    try:
        _files.write_in(str(root), "etc/a/b.conf", "x=1\n", 0o644)
        _files.write_in(str(root), "etc/a/secret", "s3cret\n", 0o600)
    finally:
        os.umask(old)
    assert (root / "etc/a/b.conf").read_text() == "x=1\n" and mode(root / "etc/a/b.conf") == 0o644
    assert mode(root / "etc/a/secret") == 0o600
    assert sorted(os.listdir(str(root / "etc/a"))) == ["b.conf", "secret"]      # no temporary left
    assert _files.read_in(str(root), "etc/a/secret") == ("s3cret\n", 0o600)
    assert _files.read_in(str(root), "etc/none/x") == (None, None)
    assert _files.list_in(str(root), "etc/a") == ["b.conf", "secret"]
    _files.remove_in(str(root), "etc/a/b.conf")
    _files.remove_in(str(root), "etc/a/b.conf")
    assert _files.list_in(str(root), "etc/a") == ["secret"] and _files.list_in(str(root), "nope") == []


@pytest.mark.parametrize("link", ["abs", "rel"])
def test_symlinked_directory_is_refused_for_every_operation(tmp_path, link):
    root, outside = tmp_path / "img", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    (outside / "f").write_text("outside\n")
    os.symlink(str(outside) if link == "abs" else "../../outside", str(root / "etc/iscsi"))
    for call in (lambda: _files.write_in(str(root), "etc/iscsi/f", "x", 0o600),
                 lambda: _files.read_in(str(root), "etc/iscsi/f"),
                 lambda: _files.remove_in(str(root), "etc/iscsi/f"),
                 lambda: _files.list_in(str(root), "etc/iscsi")):
        with pytest.raises(_files.UnsafePath, match="etc/iscsi is a symbolic link"):
            call()
    assert os.listdir(str(outside)) == ["f"] and (outside / "f").read_text() == "outside\n"


def test_symlinked_file_and_dotdot_are_refused(tmp_path):
    root, outside = tmp_path / "img", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    (outside / "f").write_text("outside\n")
    os.symlink(str(outside / "f"), str(root / "etc/f"))
    with pytest.raises(_files.UnsafePath, match="is a symbolic link"):
        _files.write_in(str(root), "etc/f", "x", 0o600)
    with pytest.raises(_files.UnsafePath, match="is a symbolic link"):
        _files.read_in(str(root), "etc/f")
    with pytest.raises(_files.UnsafePath, match=r"'\.\.'"):
        _files.write_in(str(root), "etc/../../outside/f", "x", 0o600)
    assert (outside / "f").read_text() == "outside\n" and mode(outside / "f") == 0o644
    assert os.path.islink(str(root / "etc/f"))


def test_planted_temporary_name_is_never_opened(tmp_path):
    (tmp_path / "outside").write_text("outside\n")
    for name in ("conf.tmp", "conf.sanboot-tmp", ".conf.sanboot-tmp"):
        os.symlink(str(tmp_path / "outside"), str(tmp_path / name))
    _files.write_atomic(str(tmp_path / "conf"), b"new\n", 0o600)
    assert (tmp_path / "outside").read_text() == "outside\n"
    assert (tmp_path / "conf").read_text() == "new\n" and mode(tmp_path / "conf") == 0o600


def test_write_atomic_replaces_a_symlink_instead_of_following_it(tmp_path):
    (tmp_path / "outside").write_text("outside\n")
    os.symlink(str(tmp_path / "outside"), str(tmp_path / "unit"))
    _files.write_atomic(str(tmp_path / "unit"), "mine\n", 0o644)
    assert not os.path.islink(str(tmp_path / "unit")) and (tmp_path / "unit").read_text() == "mine\n"
    assert (tmp_path / "outside").read_text() == "outside\n"


def test_failure_leaves_no_temporary_file(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep").write_text("x")
    with pytest.raises(OSError):
        _files.write_atomic(str(tmp_path / "target"), "x", 0o644)    # rename over a directory
    assert sorted(os.listdir(str(tmp_path))) == ["target"]


def test_write_atomic_parents_and_mode_despite_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        _files.write_atomic(str(tmp_path / "etc/iet/initiators.allow"), "ALL\n", 0o644, parents=True)
    finally:
        os.umask(old)
    assert (tmp_path / "etc/iet/initiators.allow").read_text() == "ALL\n"
    assert mode(tmp_path / "etc/iet/initiators.allow") == 0o644
    with pytest.raises(OSError):
        _files.write_atomic(str(tmp_path / "missing/x"), "x")           # no parents: no mkdir
    assert not (tmp_path / "missing").exists()


def test_write_new_creates_a_private_file_of_a_fresh_name(tmp_path):
    old = os.umask(0)
    try:
        a = _files.write_new(str(tmp_path), "iscsi_probe.", b"s3cret")
        b = _files.write_new(str(tmp_path), "iscsi_probe.", "other")
    finally:
        os.umask(old)
    assert a != b and os.path.dirname(a) == str(tmp_path)
    assert os.path.basename(a).startswith("iscsi_probe.")
    assert open(a, "rb").read() == b"s3cret" and mode(a) == 0o600 and mode(b) == 0o600


def test_write_new_removes_the_file_when_writing_fails(tmp_path, monkeypatch):
    def broken(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output"):
        _files.write_new(str(tmp_path), "p.", b"data")
    assert os.listdir(str(tmp_path)) == []


def test_owner_is_set_before_the_rename(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    _files.write_in(str(root), "a/f", "x", 0o600, owner=(os.getuid(), os.getgid()))
    st = os.lstat(str(root / "a/f"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (os.getuid(), os.getgid(), 0o600)


def test_symlink_switch_is_a_rename_and_contained(tmp_path):
    root = tmp_path / "r"
    (root / "images" / "g1").mkdir(parents=True)
    assert _files.readlink_in(str(root), "images/current") is None
    _files.symlink_in(str(root), "images/current", "g1")
    _files.symlink_in(str(root), "images/current", "g2")
    assert os.readlink(str(root / "images/current")) == "g2"
    assert sorted(os.listdir(str(root / "images"))) == ["current", "g1"]      # no temporary left
    assert stat.S_ISLNK(_files.stat_in(str(root), "images/current").st_mode)
    for bad in ("../g1", "/etc", ""):
        with pytest.raises(_files.UnsafePath):
            _files.symlink_in(str(root), "images/current", bad)
    with pytest.raises(_files.UnsafePath, match="not a symbolic link"):
        _files.symlink_in(str(root), "images/g1", "x")
    with pytest.raises(_files.UnsafePath, match="not a symbolic link"):
        _files.readlink_in(str(root), "images/g1")


def test_rename_rmtree_and_open_stay_inside(tmp_path):
    root, outside = tmp_path / "r", tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (outside / "keep").write_text("keep")
    _files.write_in(str(root), "images/.g1.new/vmlinuz", b"k")
    os.symlink(str(outside), str(root / "images/.g1.new/link"))
    _files.rename_in(str(root), "images/.g1.new", "images/g1")
    with pytest.raises(OSError):
        _files.rename_in(str(root), "images/g1", "images/g1")
    with pytest.raises(_files.UnsafePath):
        _files.rename_in(str(root), "images/g1", "other/g1")
    fd = _files.open_in(str(root), "images/g1/vmlinuz")
    with os.fdopen(fd, "rb") as f:
        assert f.read() == b"k"
    assert _files.open_in(str(root), "images/g1/none") is None
    with pytest.raises(_files.UnsafePath):
        _files.open_in(str(root), "images/g1/link")
    _files.rmtree_in(str(root), "images/g1")
    _files.rmtree_in(str(root), "images/g1")
    assert os.listdir(str(root / "images")) == [] and (outside / "keep").read_text() == "keep"
    with pytest.raises(_files.UnsafePath):
        _files.rmtree_in(str(root), "")
