# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A localhost play that uses the collection, run through ansible-runner's Python API (what AWX
runs): status, rc, the task's runner_on_ok event and the artifacts directory."""

import os
import sys

import ansible_runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TREE = os.path.join(ROOT, ".cache", "pytest-collections")

PLAY = """\
- name: The collection's test plugin through ansible-runner
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check an IQN with sanboot.lab.valid_iqn
      ansible.builtin.assert:
        that:
          - "'iqn.2024-01.lab.sanboot:guest1' is sanboot.lab.valid_iqn"
          - "'not-an-iqn' is not sanboot.lab.valid_iqn"
"""


def test_runner_runs_a_play(tmp_path, monkeypatch):
    # the venv's ansible-playbook, whether or not its bin directory is on PATH
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    project = tmp_path / "project"
    project.mkdir()
    (project / "check.yml").write_text(PLAY)
    run = ansible_runner.run(
        private_data_dir=str(tmp_path), playbook="check.yml", inventory="localhost ansible_connection=local",
        envvars={"ANSIBLE_COLLECTIONS_PATH": TREE, "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg")},
        quiet=True, timeout=120)
    assert run.status == "successful", run.stdout.read()
    assert run.rc == 0
    oks = [e for e in run.events if e.get("event") == "runner_on_ok"]
    assert [e["event_data"]["task"] for e in oks] == ["Check an IQN with sanboot.lab.valid_iqn"]
    assert oks[0]["event_data"]["host"] == "localhost"
    assert run.stats["ok"] == {"localhost": 1}
    artifacts = os.path.join(str(tmp_path), "artifacts", run.config.ident)
    assert os.path.isfile(os.path.join(artifacts, "rc"))
    assert os.listdir(os.path.join(artifacts, "job_events"))
