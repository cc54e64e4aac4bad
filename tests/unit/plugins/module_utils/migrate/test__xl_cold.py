# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cold move of the xl driver (xl save / copy / xl restore) against a scripted runner: the
commands in their order, the copy's quoting, and the way back to the source on a failure."""

from __future__ import annotations

import shlex

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _xl_cold as c
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import MigrationError
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._xl import XlDriver

SSH = ["ssh", "-o", "BatchMode=yes", "--", "dom2"]
FILE = "/var/lib/xen/save/guest1.save"


class Script(object):
    """A runner: every argv is recorded; ``fail`` maps a word of the command line to an rc."""

    def __init__(self, fail=None, on_dst=False):
        self.calls, self.fail, self.on_dst = [], fail or {}, on_dst

    def __call__(self, argv, check=True):
        self.calls.append(argv)
        line = " ".join(argv)
        if argv[:5] == SSH and "xl domid" in line:
            return (0 if self.on_dst else 1), "", ""
        for word, rc in self.fail.items():
            if word in line:
                return rc, "", "%s went wrong" % word
        return 0, "", ""


def driver(script, **params):
    p = dict(domain="guest1", source="dom1", destination="dom2", driver="xl", mode="cold",
             save_dir="/var/lib/xen/save", timeout=60, ssh_command="ssh -o BatchMode=yes")
    p.update(params)
    return XlDriver(script, p)


def test_option_errors():
    assert c.cold_option_errors({"save_dir": "save", "mode": "cold", "domain": "g"}) == [
        "save_dir: 'save' is not an absolute path"]
    assert c.cold_option_errors({"save_dir": "/s", "mode": "cold", "domain": "a/b"}) == [
        "domain: 'a/b' cannot name a save file (mode=cold)"]
    assert c.cold_option_errors({"save_dir": "/s", "mode": "live", "domain": "a/b"}) == []


def test_copy_argv_quotes_everything():
    argv = c.copy_argv(["ssh", "-o", "BatchMode=yes"], "dom2", "/x y/g'1.save")
    assert argv[:2] == ["sh", "-c"]
    words = shlex.split(argv[2])
    assert words[:5] == SSH and words[-2:] == ["<", "/x y/g'1.save"]
    assert shlex.split(words[5]) == ["sh", "-c", 'cat > "$1.part" && mv -f "$1.part" "$1"', "sh",
                                     "/x y/g'1.save"]


def test_cold_move_commands_and_stats():
    script = Script()
    stats = driver(script).migrate()
    lines = [" ".join(a) for a in script.calls]
    assert lines[0] == "mkdir -p /var/lib/xen/save"
    assert lines[1].startswith("ssh -o BatchMode=yes -- dom2 mkdir -p")
    assert lines[2] == "timeout --kill-after=10 60 xl save guest1 " + FILE
    assert script.calls[3][:3] == ["timeout", "--kill-after=10", "60"]
    assert script.calls[3][3:5] == ["sh", "-c"]
    assert lines[4] == "ssh -o BatchMode=yes -- dom2 timeout --kill-after=10 60 xl restore " + FILE
    assert lines[5:] == ["ssh -o BatchMode=yes -- dom2 rm -f " + FILE, "rm -f " + FILE]
    assert stats["mode"] == "cold" and stats["save_file"] == FILE
    assert stats["downtime_ms"] == stats["total_time_ms"] >= 0
    assert stats["total_time_from"] == "wall clock"
    assert set(stats) >= {"save_ms", "copy_ms", "restore_ms"}


@pytest.mark.parametrize("word,what", [("sh -c", "copying " + FILE + " to dom2 failed (rc=1)"),
                                       ("dom2 timeout", "xl restore on dom2 failed (rc=1)")])
def test_failure_restores_on_the_source(word, what):
    script = Script(fail={word: 1})
    with pytest.raises(MigrationError) as err:
        driver(script).migrate()
    assert str(err.value).startswith(what)
    assert str(err.value).endswith("; the guest was restored on the source dom1")
    lines = [" ".join(a) for a in script.calls]
    assert "timeout --kill-after=10 60 xl restore " + FILE in lines     # locally, on dom1
    assert lines[-1] == "rm -f " + FILE


def test_half_restored_destination_is_destroyed_first_or_the_file_kept():
    script = Script(fail={"dom2 timeout": 124}, on_dst=True)
    with pytest.raises(MigrationError) as err:
        driver(script).migrate()
    lines = [" ".join(a) for a in script.calls]
    assert "ssh -o BatchMode=yes -- dom2 xl destroy guest1" in lines
    assert "xl restore on dom2 timed out after 60 s" in str(err.value)
    assert "not restored on the source (its disks are shared); it is saved in " + FILE \
        in str(err.value)
    assert "timeout --kill-after=10 60 xl restore " + FILE not in lines


def test_failed_local_restore_keeps_the_file():
    script = Script(fail={"restore": 1})
    with pytest.raises(MigrationError) as err:
        driver(script).migrate()
    assert "restoring it on the source failed too" in str(err.value)
    assert str(err.value).endswith("it is saved in %s on the source" % FILE)
    assert "rm -f " + FILE not in [" ".join(a) for a in script.calls]


def test_failed_save_is_reported():
    script = Script(fail={"xl save": 1, "xl domid": 0})
    with pytest.raises(MigrationError) as err:
        driver(script).migrate()
    assert str(err.value) == "xl save failed (rc=1): xl save went wrong"
