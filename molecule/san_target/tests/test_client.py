# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From client1, with libiscsi's tools and qemu-io directly (independent of iscsi_probe)."""

from __future__ import annotations


from test_target import size_bytes


# libiscsi reads CHAP from these variables (testinfra quotes each %s argument).
CHAP_ENV = "LIBISCSI_CHAP_USERNAME=%s LIBISCSI_CHAP_PASSWORD=%s "


def chap(spec):
    return spec["chap"]["username"], spec["chap"]["password"]


def url(scenario, spec, lun):
    return "iscsi://%s:3260/%s/%d" % (scenario["portal"], spec["name"], lun)


def test_allowed_login_reads_each_capacity(client, scenario):
    spec = scenario["data"]
    for lun in spec["luns"]:
        out = client.check_output(CHAP_ENV + "iscsi-readcapacity16 -i %s %s", *chap(spec),
                                  scenario["initiator"], url(scenario, spec, lun["lun"]))
        assert "Total size:%d" % size_bytes(lun["size"]) in out


def test_wrong_initiator_name_is_refused(client, scenario):
    spec = scenario["data"]
    cmd = client.run(CHAP_ENV + "iscsi-inq -i iqn.2025-01.lab.sanboot:intruder %s", *chap(spec),
                     url(scenario, spec, 1))
    assert cmd.rc != 0 and "Target not found(515)" in cmd.stdout + cmd.stderr


def test_login_without_chap_is_refused(client, scenario):
    spec = scenario["data"]
    cmd = client.run("iscsi-inq -i %s %s", scenario["initiator"], url(scenario, spec, 1))
    assert cmd.rc != 0 and "Authentication failure(513)" in cmd.stdout + cmd.stderr


def test_qemu_io_round_trip_with_chap(client, scenario):
    spec, lun = scenario["data"], scenario["data"]["luns"][-1]
    secret = client.check_output("mktemp")
    try:
        client.check_output("printf %%s %s > %s", spec["chap"]["password"], secret)
        opts = ("driver=iscsi,transport=tcp,portal=%s:3260,target=%s,lun=%d,initiator-name=%s,"
                "user=%s,password-secret=sec0" % (scenario["portal"], spec["name"], lun["lun"],
                                                  scenario["initiator"], spec["chap"]["username"]))
        base = "qemu-io --object secret,id=sec0,file=%s --image-opts %s" % (secret, opts)
        client.check_output(base + " -c 'write -P 0x5b 1048576 65536'")
        # A second session reads the pattern back (-P verifies every byte; rc 1 on mismatch).
        assert "read 65536/65536" in client.check_output(base + " -c 'read -P 0x5b 1048576 65536'")
    finally:
        client.run("rm -f %s", secret)


def test_scratch_target_admits_its_names_without_chap(client, scenario):
    spec = scenario["scratch"]
    out = client.check_output("iscsi-readcapacity16 -i %s %s", scenario["initiator"], url(scenario, spec, 1))
    assert "Total size:%d" % size_bytes(spec["luns"][0]["size"]) in out
