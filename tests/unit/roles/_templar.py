# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's defaults, vars and task expressions evaluated with Ansible's own templar (the unit
tests of roles that keep their logic in Jinja expressions)."""

from __future__ import annotations

import os
import sys

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
from ansible.utils.collection_loader import AnsibleCollectionConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _load_collection_plugins():
    """Make the collection's filters (sanboot.lab.*) resolvable by the templar."""
    if AnsibleCollectionConfig.collection_finder is None:
        # Unit tests that ran before imported ansible_collections.sanboot.lab as a plain package
        # (tests/conftest.py puts it on sys.path): Ansible's collection finder loads the
        # collection's metadata only for modules it imports itself, so forget those first.
        for name in [n for n in sys.modules if n == "ansible_collections" or n.startswith("ansible_collections.")]:
            del sys.modules[name]
        init_plugin_loader()  # finds sanboot.lab on sys.path (tests/conftest.py)


class RoleTemplar(object):
    """``roles/<role>``: its YAML files, its tasks by name, and expressions evaluated with its
    defaults and vars plus ``base`` (facts a play would have) and the call's variables."""

    def __init__(self, role, collection_plugins=False, **base):
        self.path = os.path.join(ROOT, "roles", role)
        self.collection_plugins = collection_plugins
        self.base = base

    def yaml(self, *path):
        with open(os.path.join(self.path, *path), encoding="utf-8") as f:
            return yaml.safe_load(f)

    def task(self, name):
        return next(t for t in self.yaml("tasks", "main.yml") if t.get("name") == name)

    def evaluate(self, expr, **variables):
        if self.collection_plugins:
            _load_collection_plugins()
        v = dict(self.yaml("defaults", "main.yml"), **self.base)
        v.update(self.yaml("vars", "main.yml"))
        v.update(variables)
        return Templar(loader=DataLoader(), variables=v).template(expr)
