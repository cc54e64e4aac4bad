# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ansible-core versions meta/runtime.yml claims are the ones the test suite runs with.

``requires_ansible`` may admit only ansible-core minor versions that ``make test`` runs every
suite with: the ``ansible-core`` pin of requirements.txt (the venv of ``make deps``), which the
execution environment pins too. A sanity ignore file exists only for a claimed version and is
empty. Widening the claim means a tested venv per added version (docs/packaging.md).
"""

from __future__ import annotations

import glob
import os
import re

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _claim():
    return SpecifierSet(yaml.safe_load(_read("meta", "runtime.yml"))["requires_ansible"])


def _pinned_core():
    pins = re.findall(r"^ansible-core==(\S+)\s*$", _read("requirements.txt"), re.M)
    assert len(pins) == 1, "requirements.txt pins ansible-core exactly once"
    return Version(pins[0])


def _claimed_minors(claim):
    """Every 2.N minor the claim admits at some patch level (2.10 to 2.40)."""
    return {"2.%d" % n for n in range(10, 41)
            if any(Version("2.%d.%d" % (n, p)) in claim for p in (0, 1, 50, 999))}


def test_the_claim_is_a_bounded_range():
    claim = _claim()
    assert any(s.operator in ("<", "<=", "==", "~=") for s in claim), "an open upper bound claims untested versions"
    assert _claimed_minors(claim), str(claim)


def test_the_claimed_minors_are_the_tested_ones():
    pinned = _pinned_core()
    claim = _claim()
    assert pinned in claim, "requirements.txt's ansible-core %s is outside requires_ansible %s" % (pinned, claim)
    tested = {"%d.%d" % (pinned.major, pinned.minor)}
    assert _claimed_minors(claim) == tested, (
        "meta/runtime.yml claims ansible-core %s, the suites run with %s only" % (sorted(_claimed_minors(claim)), sorted(tested)))


def test_the_suites_run_with_the_pinned_core():
    import ansible.release

    assert Version(ansible.release.__version__) == _pinned_core(), "the venv is not the one requirements.txt pins"
    assert "ansible-core==%s" % _pinned_core() in _read("execution-environment.yml")


def test_sanity_ignore_files_are_claimed_versions_and_empty():
    minors = _claimed_minors(_claim())
    for path in glob.glob(os.path.join(ROOT, "tests", "sanity", "ignore-*.txt")):
        version = os.path.basename(path)[len("ignore-"):-len(".txt")]
        assert version in minors, "%s: ansible-core %s is not claimed" % (path, version)
        with open(path, encoding="utf-8") as f:
            assert not f.read().strip(), "%s is not empty" % path


def test_the_docs_state_the_claim():
    assert 'requires_ansible: "%s"' % yaml.safe_load(_read("meta", "runtime.yml"))["requires_ansible"] in _read("docs", "packaging.md")
