# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libiscsi's iscsi-test-cu from client1 against the SCRATCH LUN (it destroys the LUN's data).

The failures must be exactly tests/conformance/tgt-known-failures.txt: a new failure, or a
known one that starts passing, fails the scenario.
"""

from __future__ import annotations

import os

from conftest import ROOT
from ansible_collections.sanboot.lab.plugins.module_utils.initiator._libiscsi import parse_cunit_results, parse_known_failures


def test_iscsi_test_cu_failures_are_exactly_the_known_ones(client, scenario):
    spec = scenario["scratch"]
    assert spec["name"].endswith(".scratch"), "never run the suite against a data LUN"
    url = "iscsi://%s:3260/%s/%d" % (scenario["portal"], spec["name"], spec["luns"][0]["lun"])
    workdir = client.check_output("mktemp -d")
    try:
        run = client.run("cd %s && iscsi-test-cu -n -d --test=ALL -x -i %s -I %s %s", workdir,
                         spec["initiators"][0], spec["initiators"][1], url)
        xml = client.file(os.path.join(workdir, "CUnitAutomated-Results.xml")).content_string
    finally:
        client.run("rm -rf %s", workdir)
    results = parse_cunit_results(xml)
    with open(os.path.join(ROOT, "tests", "conformance", "tgt-known-failures.txt")) as handle:
        known = parse_known_failures(handle.read())
    assert results["run"] == results["total"] and results["total"] >= 200, run.stdout[-2000:]
    assert results["failed"] == known, "unexpected: %s; known but passed: %s" % (
        sorted(set(results["failed"]) - set(known)), sorted(set(known) - set(results["failed"])))
    assert run.rc == (1 if known else 0)
