# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facts live_migration gathers, as the tests of ``_flow`` and ``_plan`` start from them:
a reachable x86_64 host and a running guest on one iSCSI disk; keywords override."""

from __future__ import annotations


def host(name, **kw):
    facts = {"name": name, "reachable": True, "accepts": True, "arch": "x86_64",
             "vendor": "intel", "free_memory_bytes": 4 << 30, "addresses": ["198.51.100.31"],
             "paths": None}
    facts.update(kw)
    return facts


def guest(**kw):
    facts = {"name": "g1", "found": True, "on_destination": False, "memory_bytes": 512 << 20,
             "disks": [{"kind": "network", "protocol": "iscsi", "portal": "198.51.100.10",
                        "target": "iqn.2024-01.lab.sanboot:g1", "lun": 1, "device": "vda"}]}
    facts.update(kw)
    return facts
