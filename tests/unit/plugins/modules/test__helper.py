# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table runner itself: it notices what a module does that the table does not say."""

import os
import types

import pytest
import yaml

from _helper import Table, TableMismatch  # pylint: disable=wrong-import-order
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.common import _stores
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner


def main():
    """A module that does what its ``do`` option says."""
    module = AnsibleModule(argument_spec=dict(do=dict(type="str"), path=dict(type="str"),
                                              password=dict(type="str", no_log=True),
                                              plain_password=dict(type="str")))   # no no_log: a leak
    p, runner = module.params, Runner(module)
    if p["do"] == "write":
        with open(p["path"], "w") as f:
            f.write("x")
    elif p["do"] == "run":
        runner(["true", p["path"] or ""])
    module.exit_json(changed=False, tgtd=_stores.TGTD_RUN_DIR,
                     proc=_stores.vblade_processes.__defaults__[0], ports=_stores.tgtd_control_ports())


def table(tmp_path, cases):
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(dict(test_cases=cases)))
    module = types.ModuleType("fake_module")
    module.main = main
    return Table(module, "", filename=str(path))


def run(tmp_path, monkeypatch, capsys, case):
    case = dict(dict(id="x"), **case)
    return table(tmp_path, [case]).run(case, tmp_path / "case", monkeypatch, capsys)


def test_host_paths_point_into_the_case_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "case").mkdir()
    r = run(tmp_path, monkeypatch, capsys, dict(input={}, output=dict(ports=[])))
    assert r["tgtd"] == str(tmp_path / "case" / "var" / "run" / "tgtd")
    assert r["proc"] == str(tmp_path / "case" / "proc")


def test_write_outside_the_case_directory_fails(tmp_path, monkeypatch, capsys):
    (tmp_path / "case").mkdir()
    with pytest.raises(TableMismatch, match="outside the test's directory"):
        run(tmp_path, monkeypatch, capsys, dict(input=dict(do="write", path=str(tmp_path / "elsewhere"))))
    assert not os.path.exists(tmp_path / "elsewhere")
    run(tmp_path, monkeypatch, capsys, dict(input=dict(do="write", path="@TMP@/inside"),
                                            files={"inside": "x"}))


@pytest.mark.parametrize("calls,error", [
    ([], "unexpected command #1"),
    ([dict(command=["true", "other"])], "command #1:"),
    ([dict(command=["true", ""]), dict(command=["false"])], "never ran"),
    ([dict(command=["true", ""], environ=dict(LC_ALL="POSIX"))], "environment LC_ALL='C'"),
])
def test_commands_are_checked(tmp_path, monkeypatch, capsys, calls, error):
    (tmp_path / "case").mkdir()
    with pytest.raises(TableMismatch, match=error):
        run(tmp_path, monkeypatch, capsys, dict(input=dict(do="run"), mocks=dict(run_command=calls)))


def test_output_and_secrets_are_checked(tmp_path, monkeypatch, capsys):
    (tmp_path / "case").mkdir()
    with pytest.raises(AssertionError, match="output changed"):
        run(tmp_path, monkeypatch, capsys, dict(input={}, output=dict(changed=True)))
    run(tmp_path, monkeypatch, capsys, dict(input=dict(password="s3cret-value")))     # masked
    with pytest.raises(AssertionError, match="no_log value"):
        run(tmp_path, monkeypatch, capsys, dict(input=dict(plain_password="s3cret-value")))
