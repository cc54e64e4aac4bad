# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the libvirt_host scenario: testinfra hosts over ssh:// and the role's variables.

Addresses, ssh key and the role's variables come from ../molecule.yml: the tests check exactly
what converge applied.
"""

from __future__ import annotations

import os

import pytest
import testinfra
import yaml

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _inventory():
    with open(os.path.join(SCENARIO, "molecule.yml")) as handle:
        return yaml.safe_load(handle)["provisioner"]["inventory"]


INVENTORY = _inventory()
ALL = INVENTORY["group_vars"]["all"]
VARS = INVENTORY["group_vars"]["hypervisors"]


def address(name):
    return INVENTORY["host_vars"][name]["ansible_host"]


def _host(name):
    return testinfra.get_host(
        "ssh://root@%s" % address(name), ssh_identity_file=ALL["ansible_ssh_private_key_file"],
        ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")


@pytest.fixture(scope="session")
def hv1():
    return _host("hv1")


@pytest.fixture(scope="session")
def hv2():
    return _host("hv2")


@pytest.fixture(scope="session", params=["hv1", "hv2"])
def hypervisor(request):
    return request.param, _host(request.param)


@pytest.fixture(scope="session")
def inventory_addresses():
    return {name: address(name) for name in INVENTORY["host_vars"]}


@pytest.fixture(scope="session")
def role_vars():
    return VARS
