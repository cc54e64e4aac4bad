# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 portals with sanboot.lab.iscsi_initiator, logged in for real from the kernel testbed.

community.general.open_iscsi splits node records on ':' and answers "Specified target not found"
for an IPv6 portal plus a target (docs/initiator.md). Here a throwaway tgtd on the controller
listens on a unique-local address of the lab bridge (fd5b:5b::1 on sanbr0; the testbed gets
fd5b:5b::30 on the NIC it has there; both removed afterwards) and on the bridge's link-local
address; the module logs in over ``[fd5b:5b::1]:3263`` and over
``[fe80::...%<iface>]:3263``; the LUN appears with its by-path name, a re-run changes nothing, and ``state: absent`` leaves no
session and no record. The target admits the testbed's initiator name only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROL, PORT = 87, 3263
BRIDGE, NET = "sanbr0", "fd5b:5b::/64"
HOST6, BED6 = "fd5b:5b::1", "fd5b:5b::30"
IQN = "iqn.2024-01.lab.sanboot.test:ipv6-portal"


def initiator(bed, check=False, **args):
    """Run sanboot.lab.iscsi_initiator on the testbed; return its result dict."""
    env = ansible_env(ANSIBLE_HOST_KEY_CHECKING="False", **bed.ansible_env)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "all", "-i", bed.host + ",",
            "-e", "ansible_python_interpreter=/usr/bin/python3", "-m", "sanboot.lab.iscsi_initiator",
            "-a", json.dumps(dict(args, target=IQN)), "--diff"] + (["--check"] if check else [])
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][bed.host]


def _sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _link_local(text):
    """The fe80:: address in ``ip -6 -o addr show`` output (without the prefix length)."""
    return [w.split("/")[0] for w in text.split() if w.startswith("fe80:")][0]


@pytest.fixture(scope="module")
def v6(testbed, tmp_path_factory):  # noqa: F811
    busy = _sh("ip", "-6", "-o", "addr", "show") + _sh("ip", "-6", "route", "show")
    assert "fd5b:5b:" not in busy, "%s is in use on this machine: the test does not touch it\n%s" % (NET, busy)
    nic = testbed.run("ip -o -4 addr show | awk '$4 == \"%s/25\" {print $2}'" % testbed.host).stdout.strip()
    lun = str(tmp_path_factory.mktemp("ipv6") / "lun1.img")
    with open(lun, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    name = testbed.run("sed -n 's/^InitiatorName=//p' /etc/iscsi/initiatorname.iscsi").stdout.strip()
    host_ll = _link_local(_sh("ip", "-6", "-o", "addr", "show", "dev", BRIDGE, "scope", "link"))
    tgtd = None
    try:
        _sh("ip", "-6", "addr", "add", HOST6 + "/64", "dev", BRIDGE, "nodad")
        testbed.run("ip -6 addr add %s/64 dev %s nodad" % (BED6, nic))
        tgtd = Tgtd(CONTROL, "[%s]:%d" % (HOST6, PORT)).start()
        # a second portal on the bridge's link-local address (tgtd binds it with the scope)
        added = tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "portal", "--param",
                            "portal=[%s%%%s]:%d" % (host_ll, BRIDGE, PORT), check=False)
        tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
        tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", lun)
        tgtd.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "--initiator-name", name)
        yield {"bed": testbed, "nic": nic, "link_local": host_ll if added.returncode == 0 else None,
               "portal_error": added.stderr}
    finally:
        initiator(testbed, portals=["[%s]:%d" % (HOST6, PORT), "[%s%%%s]:%d" % (host_ll, nic, PORT)],
                  state="absent", discover=False)
        testbed.run("ip -6 addr del %s/64 dev %s" % (BED6, nic), check=False)
        if tgtd is not None:
            tgtd.stop()
        subprocess.run(["ip", "-6", "addr", "del", HOST6 + "/64", "dev", BRIDGE], check=False)


def _logs_in(v6, portal):
    bed = v6["bed"]
    first = initiator(bed, portals=[portal], node_startup="manual")
    assert not first.get("failed"), (first.get("msg"), first.get("cmd"), first.get("stderr"))
    assert first["changed"] is True
    (session,) = first["sessions"]
    (device,) = session["devices"]
    assert device["lun"] == 1 and device["by_path"].endswith("-iscsi-%s-lun-1" % IQN), device
    assert bed.run("test -b %s" % device["by_path"], check=False).returncode == 0, device
    size = int(bed.run("blockdev --getsize64 %s" % device["path"]).stdout)
    assert size == 64 * 1024 * 1024
    again = initiator(bed, portals=[portal], node_startup="manual")
    assert again["changed"] is False, again
    gone = initiator(bed, portals=[portal], state="absent", discover=False)
    assert gone["changed"] is True and gone["sessions"] == [], gone
    assert IQN not in bed.run("iscsiadm -m session", check=False).stdout
    return session


def test_unique_local_portal(v6):
    session = _logs_in(v6, "[%s]:%d" % (HOST6, PORT))
    assert session["portal"] == "[%s]:%d" % (HOST6, PORT), session


# SendTargets answers the link-local portal without its zone (RFC 3720 §12.8): the module keeps
# the zone given in the target's record and drops the zone-less records discovery made (the first
# run of this test, before that, failed: iscsid's connect() to a zone-less fe80:: gives EINVAL).
def test_link_local_portal_with_interface(v6):
    if v6["link_local"] is None:
        pytest.skip("tgtd 1.0.85 refused a link-local portal: %s" % v6["portal_error"])
    session = _logs_in(v6, "[%s%%%s]:%d" % (v6["link_local"], v6["nic"], PORT))
    assert session["portal"] == "[%s%%%s]:%d" % (v6["link_local"], v6["nic"], PORT), session
    records = v6["bed"].run("iscsiadm -m node", check=False).stdout
    assert "[%s]:" % v6["link_local"] not in records, "a zone-less record was left: " + records
