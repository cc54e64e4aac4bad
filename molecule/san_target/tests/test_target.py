# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role left on target1: packages, tgtd, sparse stores, targets, ACLs, AoE export."""

from __future__ import annotations

import re

MIB = 1024 * 1024


def size_bytes(size):
    number, unit = re.match(r"^(\d+)(KiB|MiB|GiB|TiB)$", size).groups()
    return int(number) * 1024 ** ("KiB MiB GiB TiB".split().index(unit) + 1)


def test_packages_installed(target):
    for name in ("tgt", "vblade"):
        assert target.package(name).is_installed


def test_tgt_running_and_enabled(target):
    service = target.service("tgt")
    assert service.is_running and service.is_enabled


def test_backing_stores_are_sparse_files_of_the_requested_size(target, scenario):
    for lun in scenario["scratch"]["luns"]:  # the conformance run fills it: size only
        assert target.file(lun["path"]).size == size_bytes(lun["size"])
    for lun in scenario["data"]["luns"] + [scenario["aoe"]]:
        store = target.file(lun["path"])
        assert store.is_file and store.mode == 0o600 and store.user == "root"
        assert store.size == size_bytes(lun["size"])
        allocated = int(target.check_output("stat -c %%b:%%B %s", lun["path"]).split(":")[0]) * 512
        assert allocated < store.size, "%s is not sparse" % lun["path"]


def test_targets_luns_acl_and_chap_in_tgtd(target, scenario):
    show = target.check_output("tgtadm --lld iscsi --op show --mode target")
    data, scratch = scenario["data"], scenario["scratch"]
    for spec in (data, scratch):
        assert re.search(r"^Target \d+: %s$" % re.escape(spec["name"]), show, re.M)
        for lun in spec["luns"]:
            assert "Backing store path: %s" % lun["path"] in show
    block = show.split(data["name"], 1)[1].split("\nTarget ", 1)[0]
    acl = block.split("ACL information:", 1)[1]
    assert sorted(acl.split()) == sorted(data["initiators"]), "data target admits exactly the client's name"
    assert data["chap"]["username"] in block.split("Account information:", 1)[1].split("ACL information:")[0]
    sblock = show.split(scratch["name"], 1)[1]
    assert sorted(sblock.split("ACL information:", 1)[1].split()) == sorted(scratch["initiators"])


def test_aoe_export_served_by_vblade(target, scenario):
    aoe = scenario["aoe"]
    unit = "sanboot-vblade@e%d.%d.service" % (aoe["shelf"], aoe["slot"])
    assert target.service(unit).is_running
    # One line per process: its argv joined by spaces.
    cmdlines = target.check_output(
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done")
    wanted = r"vblade .*\b%d %d %s %s $" % (aoe["shelf"], aoe["slot"], aoe["interface"], re.escape(aoe["path"]))
    assert re.search(wanted, cmdlines, re.M), cmdlines
