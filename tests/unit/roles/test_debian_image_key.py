# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/debian_image's cache key, rendered from the role files as Ansible renders them.

Each caller's defaults, the variables its include of sanboot.lab.debian_image passes and the
builder's key task are templated with Ansible's own Templar. The expected directories are the ones
the two builders this role replaced computed for the same inputs (images already in the lab cache
must keep their directory: ``make lab`` re-run builds nothing and changes nothing).
"""

from __future__ import annotations

import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CACHE = "/var/cache/sanboot-lab"


def _yaml(*path):
    with open(os.path.join(ROOT, "roles", *path), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _task(tasks, name):
    return next(t for t in tasks if t.get("name") == name)


def image_dir(caller, tasks_file, user_vars=None):
    """The image directory roles/<caller>/tasks/<tasks_file> gets from debian_image for ``user_vars``."""
    include = next(t for t in _yaml(caller, "tasks", tasks_file) if "ansible.builtin.include_role" in t)
    assert include["ansible.builtin.include_role"]["name"] == "sanboot.lab.debian_image"
    key_task = _task(_yaml("debian_image", "tasks", "main.yml"), "Compute the image key")
    variables = dict(_yaml("debian_image", "defaults", "main.yml"))
    variables.update(_yaml(caller, "defaults", "main.yml"))
    # The callers' cache directories (their default is $LAB_CACHE or this, a lookup not rendered here).
    variables.update({"lab_cache_dir": CACHE, "guest_image_cache_dir": CACHE}, **(user_vars or {}))
    variables.update(include["vars"])
    variables.update(key_task["vars"])
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(key_task["ansible.builtin.set_fact"]["__debian_image_dir"])


def test_lab_image_keeps_its_directory():
    assert image_dir("lab", "image.yml") == CACHE + "/images/bookworm-071ce484af78b79a"


def test_lab_image_without_backports_keeps_its_directory():
    # The image of the lab before lab_image_backports: libvirt and QEMU from bookworm itself.
    old = _yaml("lab", "defaults", "main.yml")["lab_image_packages"][:13] + [
        "libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "python3-libvirt", "python3-lxml"]
    got = image_dir("lab", "image.yml", {"lab_image_packages": old, "lab_image_backports": []})
    assert got == CACHE + "/images/bookworm-ae5e07c6c372d3a8"


def test_guest_base_keeps_its_directory():
    assert image_dir("guest_image", "base.yml") == CACHE + "/guest/5a65329491290ca9"


def test_key_ignores_package_order_and_duplicates():
    pkgs = _yaml("guest_image", "defaults", "main.yml")["guest_image_packages"]
    shuffled = {"guest_image_packages": list(reversed(pkgs)), "guest_image_extra_packages": pkgs[:2]}
    assert image_dir("guest_image", "base.yml", shuffled) == CACHE + "/guest/5a65329491290ca9"


@pytest.mark.parametrize("caller, tasks_file, change", [
    ("lab", "image.yml", {"lab_image_extra_packages": ["lvm2"]}),
    ("lab", "image.yml", {"lab_image_backports": ["qemu-utils"]}),
    ("lab", "image.yml", {"lab_image_variant": "buildd"}),
    ("guest_image", "base.yml", {"guest_image_extra_packages": ["lvm2", "thin-provisioning-tools"]}),
    ("guest_image", "base.yml", {"guest_image_suite": "trixie"}),
])
def test_every_input_changes_the_key(caller, tasks_file, change):
    assert image_dir(caller, tasks_file, change) != image_dir(caller, tasks_file)


def _request_ok(change):
    """Whether the role's "Check the image request" assert passes for its defaults + ``change``."""
    check = _task(_yaml("debian_image", "tasks", "main.yml"), "Check the image request")
    variables = dict(_yaml("debian_image", "defaults", "main.yml"), debian_image_packages=["tgt", "qemu-utils=1:10.0.2+ds-1~bpo12+1"])
    variables.update(change)
    templar = Templar(loader=DataLoader(), variables=variables)
    return all(templar.template("{%% if %s %%}1{%% else %%}0{%% endif %%}" % cond) == "1"
               for cond in check["ansible.builtin.assert"]["that"])


def test_plain_request_passes():
    assert _request_ok({"debian_image_systemd_enable": ["systemd-networkd.service", "getty@tty1.service"],
                        "debian_image_remove": ["/etc/fstab"], "debian_image_empty": ["/etc/resolv.conf"]})


@pytest.mark.parametrize("change", [
    {"debian_image_packages": ["-oAPT::Get::AllowUnauthenticated=true"]},
    {"debian_image_backports": ["qemu utils"]},
    {"debian_image_suite": "../bookworm"},
    {"debian_image_variant": "--foreign"},
    {"debian_image_systemd_mask": ["--root=/"]},
    {"debian_image_remove": ["etc/fstab"]},
    {"debian_image_remove": ["/"]},
    {"debian_image_remove": ["/etc/../.."]},
    {"debian_image_empty": ["/etc/./resolv.conf"]},
    {"debian_image_empty": ["/etc//resolv.conf"]},
    {"debian_image_recipe": -1},
])
def test_bad_request_is_refused(change):
    assert not _request_ok(change)
