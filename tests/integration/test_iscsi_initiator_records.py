# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sanboot.lab.iscsi_initiator against real open-iscsi 2.1.8 records and a real tgtd (-C 93,
portal 127.0.0.1:3269): discovery, node settings, idempotence, refusals.  No logins: the host
kernel has no iscsi_tcp (the QEMU testbed covers sessions).

iscsiadm's SendTargets discovery wants the tcp transport in sysfs and an initiator name from
iscsid; neither exists here.  So every iscsiadm and module run happens in a private mount
namespace (``unshare -m``) where ``/sys/class`` is a tmpfs with ``iscsi_transport/tcp`` and
``/etc/iscsi`` is a directory of this test (a copy of the host's, with an iface record carrying
``iface.initiatorname``).  The host's /etc/iscsi is never written; the copy is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-order

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.integration

CONTROL, PORTAL = 93, "127.0.0.1:3269"
TARGET = "iqn.2024-01.lab.sanboot.test:h11-%s" % uuid.uuid4().hex[:8]
IFACE = "sanboot-h11"
INITIATOR = "iqn.2024-01.lab.sanboot.test:h11-host"
NS = r"""#!/bin/sh
exec unshare -m sh -c '
mount -t tmpfs none "%(sys)s" && mkdir -p "%(sys)s/iscsi_transport/tcp" &&
echo 1 > "%(sys)s/iscsi_transport/tcp/handle" && echo 0x39 > "%(sys)s/iscsi_transport/tcp/caps" &&
mount --bind "%(sys)s" /sys/class && mount --bind "%(etc)s" /etc/iscsi && exec "$@"' sh "$@"
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("iscsiadm") or not shutil.which("tgtd"):
        pytest.skip("needs root, open-iscsi (iscsiadm) and tgt")
    base = tmp_path_factory.mktemp("iscsi_initiator")
    etc, sysclass = base / "etc-iscsi", base / "sys-class"
    shutil.copytree("/etc/iscsi", str(etc), ignore=shutil.ignore_patterns("nodes", "send_targets", "ifaces"))
    sysclass.mkdir()
    ns = base / "ns.sh"
    ns.write_text(NS % dict(sys=sysclass, etc=etc))
    ns.chmod(0o755)
    python = base / "python.sh"          # the module's interpreter: python in the namespace
    python.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (ns, sys.executable))
    python.chmod(0o755)
    daemon = Tgtd(CONTROL, PORTAL).start()
    try:
        daemon.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET)
        daemon.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
        lab = dict(ns=str(ns), python=str(python), etc=str(etc), tmp=base)
        adm(lab, "-m", "iface", "-I", IFACE, "-o", "new")
        adm(lab, "-m", "iface", "-I", IFACE, "-o", "update", "-n", "iface.initiatorname", "-v", INITIATOR)
        yield lab
    finally:
        daemon.stop()
        shutil.rmtree(str(etc), ignore_errors=True)


def adm(lab, *args, check=True):
    proc = subprocess.run([lab["ns"], "iscsiadm"] + list(args), capture_output=True, text=True, check=False)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def module(lab, check=False, **args):
    args = dict(dict(target=TARGET, portals=[PORTAL], interface=IFACE, state="present"), **args)
    args["_ansible_diff"] = True
    return run_module("iscsi_initiator", args, lab["tmp"], python=lab["python"], check_mode=check,
                      env=dict(PATH="/usr/sbin:/usr/bin:/sbin:/bin"))


def record(lab, portal=PORTAL):
    out = adm(lab, "-m", "node", "-T", TARGET, "-p", portal, "-I", IFACE, check=False)
    if out.returncode:
        return None
    return dict(line.split(" = ", 1) for line in out.stdout.splitlines() if " = " in line)


def test_discovery_creates_the_record(lab):
    r = module(lab, check=True)
    assert not r.get("failed"), r
    assert r["changed"] and record(lab) is None, "check mode wrote a record"
    r = module(lab)
    assert r["changed"] and not r.get("failed"), r
    rec = record(lab)
    assert rec["node.discovery_type"] == "send_targets" and rec["node.conn[0].port"] == "3269"
    assert ["iscsiadm", "-m", "discoverydb", "-t", "st", "-p", PORTAL, "-I", IFACE, "-o", "new",
            "--discover"] in r["commands"]
    assert r["nodes"][0]["portal"] == PORTAL and r["sessions"] == []
    r = module(lab)
    assert not r["changed"] and r["commands"] == [], r


def test_rediscovery_keeps_node_startup(lab):
    adm(lab, "-m", "node", "-T", TARGET, "-p", PORTAL, "-I", IFACE, "-o", "update", "-n", "node.startup", "-v", "manual")
    # another target appears: the next run of the module discovers again (its record is missing)
    other = TARGET + "-b"
    r = module(lab, target=other)
    assert r.get("failed") and "returns %s not at all" % other in r["msg"], r
    assert record(lab)["node.startup"] == "manual"
    adm(lab, "-m", "discoverydb", "-t", "st", "-p", PORTAL, "-I", IFACE, "-o", "new", "--discover")
    assert record(lab)["node.startup"] == "manual", "-o new --discover reset node.startup"


def test_settings_diff_and_idempotence(lab):
    chap = dict(username="h11user", password="h11-secret-1234")
    args = dict(node_startup="automatic", replacement_timeout=5, chap=chap,
                settings={"node.session.iscsi.FirstBurstLength": "65536"})
    r = module(lab, check=True, **args)
    assert r["changed"] and record(lab)["node.startup"] == "manual"
    r = module(lab, **args)
    assert r["changed"] and not r.get("failed"), r
    assert "node.startup = manual" in r["diff"]["before"] and "node.startup = automatic" in r["diff"]["after"]
    assert "node.session.timeo.replacement_timeout = 120" in r["diff"]["before"]
    assert "h11-secret-1234" not in str(r) and "********" in r["diff"]["after"]
    rec = record(lab)
    assert rec["node.startup"] == "automatic" and rec["node.session.timeo.replacement_timeout"] == "5"
    assert rec["node.session.auth.username"] == "h11user" and rec["node.session.iscsi.FirstBurstLength"] == "65536"
    r = module(lab, **args)
    assert not r["changed"] and r["commands"] == [], r
    new = dict(args)
    new["chap"] = dict(chap, password="h11-secret-5678")
    r = module(lab, **new)
    assert r["changed"] and "******** (changed)" in r["diff"]["after"] and "h11-secret-5678" not in str(r)


def test_discovery_chap_in_the_discoverydb_record(lab):
    dchap = dict(username="h11disc", password="h11-dsecret-123", mutual_username="tgt", mutual_password="h11-tsecret-123")
    r = module(lab, discovery_chap=dchap)
    assert r["changed"] and not r.get("failed") and "h11-dsecret-123" not in str(r), r
    out = adm(lab, "-m", "discoverydb", "-t", "st", "-p", PORTAL, "-I", IFACE, "-S").stdout
    assert "discovery.sendtargets.auth.username = h11disc" in out
    assert "discovery.sendtargets.auth.password_in = h11-tsecret-123" in out
    r = module(lab, discovery_chap=dchap)
    assert not r["changed"], r
    # tgtd has no outgoing account: the target cannot answer mutual CHAP, discovery is refused
    r = module(lab, target=TARGET + "-c", discovery_chap=dchap)
    assert r.get("failed") and "authorization failure" in r["stderr"] and record(lab) is not None, r
    # (not -o delete: deleting a discoverydb record deletes the node records it discovered)
    adm(lab, "-m", "discoverydb", "-t", "st", "-p", PORTAL, "-I", IFACE, "-o", "update",
        "-n", "discovery.sendtargets.auth.authmethod", "-v", "None", *[
            a for k in ("username", "password", "username_in", "password_in")
            for a in ("-n", "discovery.sendtargets.auth." + k, "-v", "")])


@pytest.mark.parametrize("args,msg", [
    (dict(portals=["127.0.0.1:99999"]), "portals[0]"),
    (dict(portals=["lab.example:3260"]), "is not an IP address"),
    (dict(target="iqn.2024.01.bad:x"), "target"),
    (dict(chap=dict(username="u", password="short")), "RFC 3720 section 8.2.1"),
    (dict(settings={"node.no_such_key": "1"}), "has no node.no_such_key"),
    (dict(target="iqn.2024-01.lab.sanboot.test:h11-not-exported"), "not at all"),
])
def test_bad_input_changes_nothing(lab, args, msg):
    before = sorted(os.walk(lab["etc"]))
    rec = record(lab)
    r = module(lab, **args)
    assert r.get("failed") and msg in r["msg"], r
    assert sorted(os.walk(lab["etc"])) == before and record(lab) == rec


def test_absent_deletes_the_record(lab):
    r = module(lab, state="absent")
    assert r["changed"] and record(lab) is None, r
    r = module(lab, state="absent")
    assert not r["changed"], r
