# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_target's run (private): its argument spec, the request built and checked (``_spec``)
before anything runs, then the provider's flow (``_tgt_run`` for tgt, ``_ietd`` for ietd), which
assembles the result (changes, commands, targets, diff)."""

from __future__ import annotations

from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner
from ansible_collections.sanboot.lab.plugins.module_utils.target import _ietd
from ansible_collections.sanboot.lab.plugins.module_utils.target import _tgt_run
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import SpecError, normalise
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt import normalise_portal

LUN = dict(lun=dict(type="int", required=True), path=dict(type="path", required=True),
           type=dict(type="str", choices=["fileio", "blockio"], default="fileio"),
           readonly=dict(type="bool", default=False), serial=dict(type="str"))
CHAP = dict(username=dict(type="str"), password=dict(type="str", no_log=True),
            mutual_username=dict(type="str"), mutual_password=dict(type="str", no_log=True))
# RFC 7143 / tgtadm spelling; ranges and rules are checked by ``_params``
PARAMETERS = dict((key, dict(type="bool" if key in ("ImmediateData", "InitialR2T") else "int"))
                  for key in ("MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
                              "FirstBurstLength", "MaxBurstLength", "MaxOutstandingR2T",
                              "ImmediateData", "InitialR2T"))
MUTUALLY_EXCLUSIVE = [("name", "targets")]
REQUIRED_ONE_OF = [("name", "targets")]


def argument_spec():
    """The module's argument spec: the per-target options at the top (for O(name)) and as the
    items of O(targets)."""
    per_target = dict(
        luns=dict(type="list", elements="dict", options=LUN),
        initiators=dict(type="list", elements="str"),
        initiator_addresses=dict(type="list", elements="str"),
        allow_all=dict(type="bool", default=False),
        chap=dict(type="dict", options=CHAP),
        parameters=dict(type="dict", options=PARAMETERS))
    item = dict(per_target, name=dict(type="str", required=True),
                state=dict(type="str", choices=["present", "absent"], default="present"))
    spec = dict(per_target, name=dict(type="str"),
                targets=dict(type="list", elements="dict", options=item),
                state=dict(type="str", choices=["present", "absent"], default="present"),
                provider=dict(type="str", choices=["tgt", "ietd"], default="tgt"),
                portals=dict(type="list", elements="str", default=[]),
                persist=dict(type="bool", default=True), config_dir=dict(type="path"),
                purge=dict(type="bool", default=False), force=dict(type="bool", default=False),
                control_port=dict(type="int", default=0))
    for key in ("luns", "initiators", "initiator_addresses"):
        spec[key] = dict(spec[key], default=[])
    return spec


def run(module):
    """Check the request (a bad one fails naming the option, before anything runs), then
    converge with the chosen provider; return the module result dict."""
    p = module.params
    try:
        specs, warnings = normalise(p, p["provider"], check_paths=True)
        portals = [normalise_portal(v, "portals[%d]" % i) for i, v in enumerate(p["portals"])]
    except (SpecError, ValueError) as e:
        module.fail_json(msg=str(e))
    for w in warnings:
        module.warn(w)
    runner = Runner(module)
    if p["provider"] == "tgt":
        return _tgt_run.converge(module, runner, specs, portals)
    return _ietd.converge(module, runner, specs, portals)
