"""Unit tests for _tgt_run: a failed tgtadm call rolls back what the run created; the lock."""

import json
import os
import threading

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common import _lock
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import Lun, TargetSpec
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt import plan
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_run import ApplyError, apply
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import TgtState

NEW = "iqn.2024-01.lab.sanboot:new"
SECRET = "newsecret123"


class Runner(object):
    """Answers rc 0, except ``fail_on`` (a substring of the joined argv)."""

    def __init__(self, fail_on):
        self.fail_on, self.history = fail_on, []

    def which(self, name, required=True):
        return "/usr/sbin/" + name

    def __call__(self, argv, check=True, **kw):
        assert not check
        self.history.append(argv)
        if self.fail_on in " ".join(argv):
            return 22, "", "tgtadm: invalid request"
        return 0, "", ""


def changes_for_new_target():
    return plan(TgtState(), [TargetSpec(NEW, luns=[Lun(1, "/srv/a.img"), Lun(2, "/srv/b.img")],
                                        chap=dict(username="newuser", password=SECRET))])


def test_failed_lun_add_rolls_back_the_run():
    r = Runner("--lun 2 -b /srv/b.img")
    with pytest.raises(ApplyError) as e:
        apply(r, changes_for_new_target(), 61)
    res = e.value.result
    assert res["rc"] == 22 and res["stderr"] == "tgtadm: invalid request" and res["changed"]
    assert res["cmd"][-6:] == ["--tid", "1", "--lun", "2", "-b", "/srv/b.img"]
    assert "add LUN 2" in res["msg"] and "rolled back" in res["msg"]
    assert res["rolled_back"] == [
        "--op delete --mode logicalunit --tid 1 --lun 1",
        "--op delete --mode target --tid 1 --force",
        "--op delete --mode account --user newuser"]
    assert res["rollback_failed"] == []
    assert SECRET not in json.dumps(res)
    assert r.history[-3:] == [["/usr/sbin/tgtadm", "-C", "61", "--lld", "iscsi"] + x.split()
                              for x in res["rolled_back"]]


def test_failed_account_creation_masks_the_secret():
    with pytest.raises(ApplyError) as e:
        apply(Runner("--mode account --user newuser"), changes_for_new_target(), 61)
    res = e.value.result
    assert SECRET not in json.dumps(res) and "********" in res["cmd"]
    assert res["rolled_back"] == [] and not res["changed"] and "nothing had been changed" in res["msg"]


def test_lock_is_exclusive_and_bounded(tmp_path):
    path = str(tmp_path / "sanboot-tgtd-61.lock")
    held, release = threading.Event(), threading.Event()

    def holder():
        with _lock.locked(path, 5, "tgtd control port 61"):
            held.set()
            release.wait(10)
    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    try:
        # flock locks belong to the open file: another open() of the same path waits
        with pytest.raises(_lock.LockTimeout, match="tgtd control port 61 is busy"):
            with _lock.locked(path, 0.3, "tgtd control port 61"):
                pass
    finally:
        release.set()
        t.join()
    with _lock.locked(path, 1, "x"):
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_lock_path(tmp_path):
    assert _lock.lock_path("a", (str(tmp_path / "no"), str(tmp_path))) == str(tmp_path / "a.lock")
