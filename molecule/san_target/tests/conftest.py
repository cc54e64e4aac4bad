# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the san_target scenario: testinfra hosts over ssh:// and the scenario's data.

Addresses and ssh key come from ../molecule.yml, the role's variables from
../vars/scenario.yml: the tests check exactly what converge applied.
"""

from __future__ import annotations

import os
import sys

import pytest
import testinfra
import yaml

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(SCENARIO))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))


def _inventory():
    with open(os.path.join(SCENARIO, "molecule.yml")) as handle:
        return yaml.safe_load(handle)["provisioner"]["inventory"]


def _scenario_vars():
    with open(os.path.join(SCENARIO, "vars", "scenario.yml")) as handle:
        return yaml.safe_load(handle)


INVENTORY = _inventory()
ALL = INVENTORY["group_vars"]["all"]
VARS = _scenario_vars()


def _host(name):
    address = INVENTORY["host_vars"][name]["ansible_host"]
    return testinfra.get_host(
        "ssh://root@%s" % address, ssh_identity_file=ALL["ansible_ssh_private_key_file"],
        ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")


@pytest.fixture(scope="session")
def target():
    return _host("target1")


@pytest.fixture(scope="session")
def client():
    return _host("client1")


@pytest.fixture(scope="session")
def scenario():
    """Plain data: portal address, the targets/exports, the client's initiator name."""
    targets = VARS["san_target_iscsi_targets"]
    return dict(
        portal=INVENTORY["host_vars"]["target1"]["ansible_host"],
        client_address=INVENTORY["host_vars"]["client1"]["ansible_host"],
        initiator=VARS["sanboot_initiator_name"],
        data=targets[0],
        scratch=targets[1],
        aoe=VARS["san_target_aoe_exports"][0],
    )
