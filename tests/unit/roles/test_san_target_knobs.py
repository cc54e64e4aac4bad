# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""san_target's tuning knobs (issue 13): the iscsi_target request built from
san_target_iscsi_parameters and each target's own `parameters`, the AoE `buffers` fallback, the
tgtd I/O threads drop-in and their typed argument specs (templates evaluated with Ansible's templar)."""

from __future__ import annotations

import os

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, "roles", "san_target")
T1, T2 = "iqn.2025-01.lab.sanboot:t1", "iqn.2025-01.lab.sanboot:t2"


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as f:
        return yaml.safe_load(f)


def evaluate(expr, **variables):
    if lookup_loader.get("ansible.builtin.file") is None:
        init_plugin_loader()
    v = dict(load("defaults", "main.yml"), **load("vars", "main.yml"))
    v.update(variables)
    return Templar(loader=DataLoader(), variables=v).template(expr)


def targets():
    return [dict(name=T1, luns=[dict(lun=1, path="/srv/sanboot/a.img", size="64MiB")]),
            dict(name=T2, parameters=dict(MaxBurstLength=524288, ImmediateData=False,
                                          FirstBurstLength=None))]


def test_defaults_give_the_measured_segment_lengths():
    got = evaluate("{{ __san_target_iscsi_request }}", san_target_iscsi_targets=targets()[:1])
    assert got == [dict(name=T1, luns=[dict(lun=1, path="/srv/sanboot/a.img")],
                        parameters=dict(MaxRecvDataSegmentLength=262144, MaxXmitDataSegmentLength=262144))]


def test_empty_parameters_leave_them_out():
    got = evaluate("{{ __san_target_iscsi_request }}", san_target_iscsi_targets=targets()[:1],
                   san_target_iscsi_parameters={})
    assert got == [dict(name=T1, luns=[dict(lun=1, path="/srv/sanboot/a.img")])]


def test_common_parameters_reach_every_target_and_own_keys_win():
    common = dict(MaxRecvDataSegmentLength=262144, MaxBurstLength=1048576, InitialR2T=None)
    got = evaluate("{{ __san_target_iscsi_request }}", san_target_iscsi_targets=targets(),
                   san_target_iscsi_parameters=common)
    assert got[0]["parameters"] == dict(MaxRecvDataSegmentLength=262144, MaxBurstLength=1048576)
    assert got[1]["parameters"] == dict(MaxRecvDataSegmentLength=262144, MaxBurstLength=524288,
                                        ImmediateData=False)
    assert isinstance(got[1]["parameters"]["MaxBurstLength"], int) and "size" not in got[0]["luns"][0]


def test_aoe_buffers_fallback():
    expr = "{{ item.buffers | default(san_target_aoe_buffers) | default('OMIT', true) }}"
    assert evaluate(expr, item={}) == "OMIT"
    assert str(evaluate(expr, item={}, san_target_aoe_buffers=64)) == "64"    # the module's int
    assert str(evaluate(expr, item=dict(buffers=8), san_target_aoe_buffers=64)) == "8"
    assert evaluate(expr, item=dict(buffers=None), san_target_aoe_buffers=64) == "OMIT"


def test_iothreads_dropin_and_handler():
    assert evaluate("{{ __san_target_iothreads_dropin }}") == \
        "/etc/systemd/system/tgt.service.d/sanboot-iothreads.conf"
    tasks = dict((t["name"], t) for t in load("tasks", "main.yml"))
    dropin = [t for n, t in tasks.items() if n.startswith("Set or remove tgtd's I/O threads")][0]
    assert "ExecStart=\nExecStart=/usr/sbin/tgtd -f --nr_iothreads" in dropin["ansible.builtin.copy"]["content"]
    assert dropin["notify"] == "Restart tgt"
    names = list(tasks)
    assert names.index(dropin["name"]) < names.index("Restart a newly installed or reconfigured tgtd "
                                                     "before any target is applied")
    handler = load("handlers", "main.yml")[0]
    assert handler["name"] == "Restart tgt" and handler["ansible.builtin.systemd_service"]["daemon_reload"]


def test_argument_specs_are_typed():
    opts = load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert opts["san_target_iscsi_parameters"]["type"] == "dict"
    measured = dict(MaxRecvDataSegmentLength=262144, MaxXmitDataSegmentLength=262144)
    assert opts["san_target_iscsi_parameters"]["default"] == measured
    assert opts["san_target_tgtd_iothreads"]["type"] == "int"
    assert opts["san_target_aoe_buffers"]["type"] == "int"
    keys = set(opts["san_target_iscsi_parameters"]["options"])
    assert keys == set(opts["san_target_iscsi_targets"]["options"]["parameters"]["options"])
    assert opts["san_target_aoe_exports"]["options"]["buffers"]["type"] == "int"
    defaults = load("defaults", "main.yml")
    assert defaults["san_target_iscsi_parameters"] == measured and defaults["san_target_tgtd_iothreads"] is None
    assert defaults["san_target_aoe_buffers"] is None
