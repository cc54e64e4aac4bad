# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one command runner (_runner): run_command by default, run_light for many small calls."""

from __future__ import annotations

import sys

from ansible.module_utils import basic

from ansible_collections.sanboot.lab.plugins.module_utils.common import _runner


def test_run_light_returns_rc_out_err_in_the_c_locale(monkeypatch):
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    code = "import os, sys; print(os.environ['LC_ALL'], os.environ['LANG']); " \
           "sys.stderr.write('e\\xe9'); sys.exit(3)"
    rc, out, err = _runner.run_light([sys.executable, "-c", code])
    assert (rc, out, err) == (3, "C C\n", "e\xe9")


def test_run_light_passes_arguments_as_they_are(monkeypatch):
    monkeypatch.setenv("SANBOOT_X", "expanded")
    rc, out, dummy = _runner.run_light([sys.executable, "-c", "import sys; print(sys.argv[1:])",
                                        "$SANBOOT_X", "~", "a b"])
    assert rc == 0 and out == "['$SANBOOT_X', '~', 'a b']\n"


def test_run_light_missing_executable_is_rc_127(tmp_path):
    rc, out, err = _runner.run_light([str(tmp_path / "nope")])
    assert rc == 127 and out == "" and "nope" in err


class Module(basic.AnsibleModule):
    def __init__(self):    # pylint: disable=super-init-not-called
        self.calls = []


class FakeModule(object):
    def __init__(self):
        self.calls = []

    def run_command(self, argv, **kw):
        self.calls.append(argv)
        return 0, "fake", ""


def test_light_uses_run_light_only_with_ansibles_own_run_command(monkeypatch):
    light = []
    monkeypatch.setattr(_runner, "run_light", lambda argv: light.append(argv) or (0, "x", ""))
    runner = _runner.Runner(Module())
    assert runner(["tgtadm", 1], light=True) == (0, "x", "")
    assert light == [["tgtadm", "1"]] and runner.history == [["tgtadm", "1"]]
    fake = FakeModule()     # a test's replacement sees every call, light or not
    assert _runner.Runner(fake)(["tgtadm"], light=True) == (0, "fake", "")
    assert fake.calls == [["tgtadm"]] and len(light) == 1


def test_light_with_data_goes_through_run_command(monkeypatch):
    seen = []
    monkeypatch.setattr(_runner, "run_light", lambda argv: seen.append("light"))
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: seen.append(kw["data"]) or (0, "", ""))
    _runner.Runner(Module())(["cat"], data="in", light=True)
    assert seen == ["in"]
