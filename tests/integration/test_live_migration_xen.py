# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration's xl and xm drivers, run as Ansible runs the module, against FAKE Xen tools.

The controller runs no Xen (``xl`` cannot even init its context without one). Real Xen runs in
QEMU/TCG VMs (test_xen_real.py: the live refusal without shadow paging, cold moves there and
back, xen_relocation's ssh trust); these tests keep what those cannot show cheaply - xend
(``xm``, gone from current Xen), failures on demand, every precheck - so the dom0s here
are FAKES: tests/integration/fakes/xen/{xl,xm,ssh} answer ``info``/``list`` from
fixture files under a scratch state directory, record every call, and move a domain's file
on ``migrate``; the fake ssh runs the "remote" command locally as the other host.  The xm
destination's relocation port is a REAL TCP listener on 127.0.0.2 (a fake xend named "xend",
or a foreign process for the "port taken" case), and the checks read it with the real ss(8).
What is proven here: every failed precheck and every failed or aborted migration leaves the
domain where it was, on the source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKES = os.path.join(REPO, "tests", "integration", "fakes", "xen")
FIX = os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "fixtures", "migrate")
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
# unique to this file: the fake xend / foreign listener on 127.0.0.2
XEND_PORT, TAKEN_PORT = 18602, 18603
BYPATH = "/dev/disk/by-path/ip-198.51.100.10:3260-iscsi-iqn.2012-06.lab.sanboot:web1-lun-1"


def real_vendor():
    with open("/proc/cpuinfo") as f:
        return [line.split(":")[1].strip() for line in f if line.startswith("vendor_id")][0]


def other_vendor():
    return "AuthenticAMD" if real_vendor() == "GenuineIntel" else "GenuineIntel"


class FakeXen(object):
    """Scratch state of the fake dom0s (layout: fakes/xen/_fakexen.py)."""

    def __init__(self, root):
        self.root = root

    def host(self, name, info, vendor=None, config=None, files=()):
        d = self.root / name
        (d / "domains").mkdir(parents=True)
        shutil.copy(os.path.join(FIX, info), d / "info")
        (d / "root" / "proc").mkdir(parents=True)
        (d / "root" / "proc" / "cpuinfo").write_text(
            "processor\t: 0\nvendor_id\t: %s\n" % (vendor or real_vendor()))
        if config is not None:
            (d / "root" / "etc" / "xen").mkdir(parents=True)
            (d / "root" / "etc" / "xen" / "xend-config.sxp").write_text(config)
        for path in files:
            (d / "root" / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (d / "root" / path.lstrip("/")).write_text("")
        return d

    def xl_domain(self, host, fixture):
        with open(os.path.join(FIX, fixture)) as f:
            dom = json.load(f)[0]
        name = dom["config"]["c_info"]["name"]
        (self.root / host / "domains" / (name + ".json")).write_text(json.dumps(dom))
        return name

    def xm_domain(self, host, fixture, name):
        shutil.copy(os.path.join(FIX, fixture), self.root / host / "domains" / (name + ".sxp"))

    def domains(self, host):
        return sorted(os.path.splitext(n)[0] for n in os.listdir(self.root / host / "domains"))

    def calls(self, host, tool=None):
        path = self.root / host / "calls.log"
        calls = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        return [c[1:] for c in calls if tool is None or c[0] == tool]

    def module(self, check_mode=False, **args):
        """Run live_migration on the source (FAKE_XEN_HOST=source) as Ansible would."""
        env = dict(FAKE_XEN_STATE=str(self.root), FAKE_XEN_HOST=args["source"],
                   PATH=FAKES + os.pathsep + os.path.dirname(PYTHON) + os.pathsep + os.environ["PATH"])
        return run_module("live_migration", args, self.root, python=PYTHON, check_mode=check_mode, env=env)


@pytest.fixture
def xen(tmp_path):
    return FakeXen(tmp_path)


@pytest.fixture
def listener(request):
    """Start a TCP listener program on 127.0.0.2; stopped by its PID afterwards."""
    procs = []

    def start(argv):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "listening"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def xl_lab(xen, dst_info="xl_info.txt", dst_vendor=None):
    xen.host("dom1", "xl_info.txt")
    xen.host("dom2", dst_info, dst_vendor)
    return xen.xl_domain("dom1", "xl_list_iscsi_root.json")


XL = dict(domain="guest1", source="dom1", destination="dom2", driver="xl")


def test_xl_migrates_verifies_and_is_idempotent(xen):
    xl_lab(xen)
    res = xen.module(**XL)
    assert not res.get("failed"), res
    assert res["changed"] and res["location"] == "destination"
    assert res["total_time_from"] == "wall clock" and res["total_time_ms"] >= 0
    assert res["downtime_ms"] is None and res["transferred_bytes"] is None
    assert (xen.domains("dom1"), xen.domains("dom2")) == ([], ["guest1"])
    assert ["migrate", "-s", "ssh -o BatchMode=yes --", "guest1", "dom2"] in xen.calls("dom1", "xl")
    assert ["migrate-receive"] in xen.calls("dom2", "xl")   # through the -s ssh command

    again = xen.module(**XL)
    assert not again.get("failed") and again["changed"] is False
    assert again["location"] == "destination"
    assert [c for c in xen.calls("dom1", "xl") if c[0] == "migrate"] == [
        ["migrate", "-s", "ssh -o BatchMode=yes --", "guest1", "dom2"]]


def test_xl_check_mode_only_checks(xen):
    xl_lab(xen)
    res = xen.module(check_mode=True, **XL)
    assert not res.get("failed") and res["changed"] and res["location"] == "source"
    assert xen.domains("dom1") == ["guest1"]
    assert not [c for c in xen.calls("dom1", "xl") if c[0] == "migrate"]


@pytest.mark.parametrize("case,expected", [
    ("vendor", "CPU vendor differs"),
    ("memory", "not enough free memory on the destination dom2: the guest needs 512 MiB, "
               "256 MiB free"),
    ("down", "destination dom9 is not reachable: 'xl info' failed (rc=255): ssh: connect to "
             "host dom9 port 22: Connection refused"),
    ("unknown", "domain 'nosuch' does not run on the source dom1"),
    ("same", "destination: 'dom1' is the source itself"),
])
def test_xl_failed_precheck_leaves_guest_untouched(xen, case, expected):
    xl_lab(xen, dst_info="xl_info_low.txt" if case == "memory" else "xl_info.txt",
           dst_vendor=other_vendor() if case == "vendor" else None)
    args = dict(XL)
    args.update({"down": {"destination": "dom9"}, "unknown": {"domain": "nosuch"},
                 "same": {"destination": "dom1"}}.get(case, {}))
    res = xen.module(**args)
    assert res["failed"] and expected in res["msg"], res
    assert res["changed"] is False
    assert xen.domains("dom1") == ["guest1"] and xen.domains("dom2") == []
    assert not [c for c in xen.calls("dom1", "xl") if c[0] == "migrate"]


def test_xl_local_disk_refused(xen):
    xen.host("dom1", "xl_info.txt")
    xen.host("dom2", "xl_info.txt")    # and not logged in to guest2's by-path LUN
    xen.xl_domain("dom1", "xl_list_disks.json")
    res = xen.module(**dict(XL, domain="guest2"))
    assert res["failed"] and res["location"] == "source"
    assert len(res["errors"]) == 2
    assert "the destination dom2 has no /dev/disk/by-path/ip-198.51.100.10:3260-iscsi-" \
           "iqn.2024-01.lab.sanboot:guest2-lun-1" in res["errors"][0]
    assert "disk xvdc is a local file /var/lib/xen/images/guest2-swap.img" in res["errors"][1]
    assert xen.domains("dom1") == ["guest2"]


def test_xl_failed_migration_stays_on_source(xen):
    xl_lab(xen)
    (xen.root / "dom1" / "fail-migrate").write_text("domain 7: out of memory on target")
    res = xen.module(**XL)
    assert res["failed"] and res["location"] == "source" and res["changed"] is False
    assert res["msg"].startswith("migration failed; the guest still runs on the source dom1: "
                                 "xl migrate failed (rc=1)")
    assert "Target reported failure: domain 7: out of memory on target" in res["msg"]
    assert (xen.domains("dom1"), xen.domains("dom2")) == (["guest1"], [])


def test_xl_timeout_aborts_and_stays_on_source(xen):
    xl_lab(xen)
    (xen.root / "dom1" / "hang-migrate").write_text("")
    res = xen.module(timeout=1, **XL)
    assert res["failed"] and res["location"] == "source"
    assert "xl migrate timed out after 1 s and was aborted" in res["msg"]
    assert (xen.domains("dom1"), xen.domains("dom2")) == (["guest1"], [])


# ---- xl on a hypervisor without shadow paging: live refused, mode=cold (FAKE xl save/restore) ----

NOSHADOW = ("source dom1: the hypervisor was built without shadow paging (virt_caps: pv gnttab-v1 "
            "gnttab-v2; Xen CONFIG_SHADOW_PAGING): a PV guest cannot be live-migrated from it "
            "(log-dirty mode; xl migrate would fail with 'Failed to enable logdirty: 22'). Use "
            "mode=cold (xl save / copy / xl restore), or boot a hypervisor built with "
            "CONFIG_SHADOW_PAGING=y.")


def noshadow_lab(xen):
    """Two FAKE dom0s whose xl info has no 'shadow' in virt_caps (Debian's Xen 4.17)."""
    xen.host("dom1", "xl_info_noshadow.txt")
    xen.host("dom2", "xl_info_noshadow.txt")
    return xen.xl_domain("dom1", "xl_list_iscsi_root.json")


def test_xl_live_refused_without_shadow_paging(xen):
    noshadow_lab(xen)
    for check_mode in (True, False):
        res = xen.module(check_mode=check_mode, **XL)
        assert res["failed"] and res["errors"] == [NOSHADOW] and res["location"] == "source"
        assert res["changed"] is False
    assert (xen.domains("dom1"), xen.domains("dom2")) == (["guest1"], [])
    assert not [c for c in xen.calls("dom1", "xl") if c[0] in ("migrate", "save")]


def test_xl_cold_there_and_back_and_idempotent(xen):
    noshadow_lab(xen)
    save_dir = str(xen.root / "save")
    path = save_dir + "/guest1.save"
    cold = dict(XL, mode="cold", save_dir=save_dir)
    res = xen.module(**cold)
    assert not res.get("failed"), res
    assert res["changed"] and res["location"] == "destination"
    assert res["total_time_from"] == "wall clock"
    assert res["downtime_ms"] == res["total_time_ms"] >= 0
    assert set(res["stats"]) >= {"save_ms", "copy_ms", "restore_ms", "mode", "save_file"}
    assert (xen.domains("dom1"), xen.domains("dom2")) == ([], ["guest1"])
    assert ["save", "guest1", path] in xen.calls("dom1", "xl")
    assert ["restore", xen.root.as_posix() + "/dom2/root" + path] in xen.calls(
        "dom2", "xl")                                          # the fake ssh maps the path
    assert not os.path.exists(path) and not os.listdir(xen.root / "dom2" / "root" / path[1:-12])

    again = xen.module(**cold)
    assert not again.get("failed") and again["changed"] is False
    assert again["location"] == "destination"

    back = xen.module(**dict(cold, source="dom2", destination="dom1"))
    assert not back.get("failed"), back
    assert back["location"] == "destination"
    assert (xen.domains("dom1"), xen.domains("dom2")) == (["guest1"], [])


def test_xl_cold_failed_restore_ends_on_the_source(xen):
    noshadow_lab(xen)
    (xen.root / "dom2" / "fail-restore").write_text("xc: error: restore failed: out of memory")
    save_dir = str(xen.root / "save")
    res = xen.module(**dict(XL, mode="cold", save_dir=save_dir))
    assert res["failed"] and res["location"] == "source" and res["changed"] is False
    assert res["msg"].startswith("migration failed; the guest still runs on the source dom1: "
                                 "xl restore on dom2 failed (rc=1)")
    assert "restore failed: out of memory" in res["msg"]
    assert res["msg"].endswith("the guest was restored on the source dom1")
    assert (xen.domains("dom1"), xen.domains("dom2")) == (["guest1"], [])
    assert not os.path.exists(save_dir + "/guest1.save")


@pytest.mark.parametrize("driver", ["libvirt", "xm"])
def test_cold_refused_by_libvirt_and_xm(xen, driver):
    noshadow_lab(xen)
    res = xen.module(**dict(XL, driver=driver, mode="cold"))
    assert res["failed"] and res["changed"] is False
    assert res["errors"] == [
        "mode: the %s driver cannot honour mode='cold' (only xl)" % driver]
    assert xen.domains("dom1") == ["guest1"] and not xen.calls("dom1")


# ---- xm / xend -------------------------------------------------------------------------

def xend_config(port, allow="^dom1$"):
    with open(os.path.join(REPO, "tests", "integration", "fixtures", "xen",
                           "xend-config.sxp-xen-4.2.2")) as f:
        stock = f.read()
    # as the role edits it: in place (xend reads the FIRST occurrence of a setting)
    return stock.replace("#(xend-relocation-server no)", "(xend-relocation-server yes)").replace(
        "#(xend-relocation-port 8002)", "(xend-relocation-port %d)" % port).replace(
        "(xend-relocation-hosts-allow '^localhost$ ^localhost\\\\.localdomain$')",
        "(xend-relocation-hosts-allow '%s')" % allow)


XM = dict(domain="web1", source="dom1", destination="127.0.0.2", driver="xm")


def xm_lab(xen, port, allow="^dom1$"):
    xen.host("dom1", "xm_info.txt")
    xen.host("127.0.0.2", "xm_info.txt", config=xend_config(port, allow), files=[BYPATH])
    xen.xm_domain("dom1", "xm_list_long.sxp", "web1")


def test_xm_migrates_to_the_relocation_port(xen, listener):
    listener([os.path.join(FAKES, "xend"), "127.0.0.2", str(XEND_PORT)])
    xm_lab(xen, XEND_PORT)
    res = xen.module(bandwidth_mbps=100, **XM)
    assert not res.get("failed"), res
    assert res["location"] == "destination" and res["downtime_ms"] is None
    assert ["migrate", "--live", "--port=%d" % XEND_PORT, "--resource=100", "web1",
            "127.0.0.2"] in xen.calls("dom1", "xm")
    assert (xen.domains("dom1"), xen.domains("127.0.0.2")) == ([], ["web1"])


def test_xm_relocation_port_taken(xen, listener):
    listener([sys.executable, "-c", (
        "import socket; s = socket.socket(); s.bind(('127.0.0.2', %d)); s.listen(); "
        "print('listening', flush=True); s.accept()" % TAKEN_PORT)])
    xm_lab(xen, TAKEN_PORT)
    res = xen.module(**XM)
    assert res["failed"] and res["location"] == "source"
    assert "relocation port %d on 127.0.0.2 is already taken by python" % TAKEN_PORT in res["msg"]
    assert xen.domains("dom1") == ["web1"]
    assert not [c for c in xen.calls("dom1", "xm") if c[0] == "migrate"]


def test_xm_not_admitted_and_not_listening(xen):
    xm_lab(xen, XEND_PORT + 10, allow=r"^dom3$ ^198\\.51\\.100\\.33$")
    res = xen.module(**XM)
    assert res["failed"] and res["location"] == "source"
    assert r"xend-relocation-hosts-allow '^dom3$ ^198\.51\.100\.33$' on 127.0.0.2 admits none " \
           r"of the source's names/addresses (dom1" in res["msg"]
    assert "nothing listens on relocation port %d on 127.0.0.2" % (XEND_PORT + 10) in res["msg"]
    assert xen.domains("dom1") == ["web1"]


def test_xm_local_disk_refused(xen, listener):
    listener([os.path.join(FAKES, "xend"), "127.0.0.2", str(XEND_PORT)])
    xm_lab(xen, XEND_PORT)
    xen.xm_domain("dom1", "xm_list_local.sxp", "web2")
    res = xen.module(**dict(XM, domain="web2"))
    assert res["failed"] and res["errors"] == [
        "disk xvda is a local file /var/lib/xen/images/web2.img: it is not shared storage the "
        "destination can reach (put it on an iSCSI LUN both hosts use)"]
    assert xen.domains("dom1") == ["web1", "web2"]
