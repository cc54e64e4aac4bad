# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration's xl driver and xen_relocation against REAL Xen (no fakes): two Xen hosts of
role sanboot.lab.xen_lab (QEMU/TCG VMs booting Debian's current hypervisor, 4.17.7 of
bookworm-security, built without shadow paging, with a Debian dom0) at 198.51.100.80/.81, and a
small PV domU (the dom0's kernel, its initramfs's shell as init, no disk, no NIC).

- the live move of that PV domU is refused before it is touched, with the cause (no shadow
  paging in ``virt_caps``) and the remedy, and the domU keeps running;
- xen_relocation's ssh trust lets the dom0s reach each other, a cold move (xl save, copy,
  xl restore) there and back leaves the domU running where it was sent, and a repeated move
  reports changed=false.

The full proof with a domU whose root is on iSCSI (pings, fsync'd sequence, memory check, kernel
log) is the lab's guest4 (``make lab-xen``, playbooks/xen.yml). The fake-xl tests
(test_live_migration_xen.py) keep what real Xen cannot show here: xend (``xm``), failures on demand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from _ansible import ROOT, ansible_env, command, run_json  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

KEY = "/var/lib/sanboot-lab/sanboot/ssh/id_ed25519"
DIR = "/var/lib/sanboot-lab/xen-test"
HOSTS = [{"name": "xt1", "address": "198.51.100.80", "mac": "52:54:00:5b:0e:80"},
         {"name": "xt2", "address": "198.51.100.81", "mac": "52:54:00:5b:0e:81"}]
XEN_VARS = {"xen_lab_hosts": HOSTS, "xen_lab_dir": DIR, "xen_lab_hypervisor": "debian"}
SSH = ["ssh", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
       "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
DOMU = "sbxtest"


def run(address, script, check=True, timeout=300):
    proc = subprocess.run(SSH + ["root@" + address, script], capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)  # conftest._blocking_stdio
    if check and proc.returncode != 0:
        raise AssertionError("%s: %r rc=%d\n%s\n%s" % (address, script, proc.returncode, proc.stdout, proc.stderr))
    return proc


def playbook(path, extra, inventory=None, timeout=1500):
    argv = [command("ansible-playbook"), path, "-e", json.dumps(extra)]
    if inventory:
        argv += ["-i", inventory]
    proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (path, proc.stdout[-6000:], proc.stderr[-2000:])
    return proc


def tiny_initrd(workdir):
    """A gzip'd cpio with the controller's busybox (and the libraries it links) as a sleeping init:
    a PV domU of 128 MiB cannot even hold the dom0's MODULES=most initrd."""
    root = os.path.join(workdir, "initrd")
    libs = subprocess.run(["ldd", "/bin/busybox"], capture_output=True, text=True, check=True).stdout
    for path in ["/bin/busybox"] + [w for w in libs.split() if w.startswith("/")]:
        dest = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(path, dest)
    with open(os.path.join(root, "init"), "w") as f:
        f.write("#!/bin/busybox sh\nwhile :; do /bin/busybox sleep 3600; done\n")
    os.chmod(os.path.join(root, "init"), 0o755)
    out = os.path.join(workdir, "initrd.img")
    subprocess.run("cd %s && find . | cpio -o -H newc --quiet | gzip -1 > %s" % (root, out), shell=True, check=True)
    return out


@pytest.fixture(scope="module")
def xen(tmp_path_factory):
    """Two real Xen hosts (started now, stopped at the end), with the ssh trust of xen_relocation."""
    inventory = str(tmp_path_factory.mktemp("xen") / "inventory.yml")
    try:
        playbook(os.path.join(ROOT, "playbooks", "xen_up.yml"), XEN_VARS)
        with open(inventory, "w") as f:
            f.write("xen_dom0s:\n  hosts:\n" + "".join(
                "    %s:\n      ansible_host: %s\n" % (h["name"], h["address"]) for h in HOSTS)
                + "  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: %s\n"
                  "    ansible_python_interpreter: /usr/bin/python3\n" % KEY)
        trust = str(tmp_path_factory.mktemp("xen") / "trust.yml")
        with open(trust, "w") as f:
            f.write("- hosts: xen_dom0s\n  gather_facts: false\n  roles:\n"
                    "    - role: sanboot.lab.xen_relocation\n      vars:\n"
                    "        xen_relocation_toolstack: xl\n        xen_relocation_dom0_group: xen_dom0s\n")
        playbook(trust, {}, inventory)
        kernel = run(HOSTS[0]["address"], "ls /boot/vmlinuz-* | tail -n 1").stdout.strip()
        initrd = "/var/lib/xen/boot/%s-initrd.img" % DOMU
        local = tiny_initrd(str(tmp_path_factory.mktemp("xen")))
        for h in HOSTS:
            run(h["address"], "mkdir -p /var/lib/xen/boot")
            subprocess.run(["scp"] + SSH[1:] + [local, "root@%s:%s" % (h["address"], initrd)], check=True,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        for h in HOSTS:
            run(h["address"], "xl destroy %s 2>/dev/null; true" % DOMU)
        run(HOSTS[0]["address"], "printf '%%s\\n' 'name=\"%s\"' 'type=\"pv\"' 'kernel=\"%s\"' 'ramdisk=\"%s\"' "
            "'extra=\"console=hvc0\"' 'memory=128' 'vcpus=1' 'on_crash=\"destroy\"' > /etc/xen/%s.cfg"
            " && xl create /etc/xen/%s.cfg" % (DOMU, kernel, initrd, DOMU, DOMU))
        yield inventory
    finally:
        playbook(os.path.join(ROOT, "playbooks", "xen_down.yml"), XEN_VARS)


def migrate(inventory, source, destination, check_mode=False, **args):
    params = dict(domain=DOMU, driver="xl", source=source["address"], destination=destination["address"],
                  timeout=300, **args)
    argv = [command("ansible"), source["name"], "-i", inventory, "-m", "sanboot.lab.live_migration",
            "-a", json.dumps(params)] + (["--check"] if check_mode else [])
    proc, out = run_json(argv, env=ansible_env(), timeout=900)
    assert out is not None, proc.stdout + proc.stderr
    return out["plays"][0]["tasks"][0]["hosts"][source["name"]]


def where(domain=DOMU):
    return [h["name"] for h in HOSTS if run(h["address"], "xl domid %s" % domain, check=False).returncode == 0]


def state(host, domain=DOMU):
    """The state column of ``xl list DOMAIN`` (r running, b blocked, p paused, c crashed...)."""
    out = run(host["address"], "xl list %s | awk 'NR == 2 { print $5 }'" % domain).stdout.strip()
    return out.replace("-", "")


def test_real_xl_reports_no_shadow_paging(xen):
    info = run(HOSTS[0]["address"], "xl info").stdout
    caps = [line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("virt_caps")]
    assert caps and "pv" in caps[0] and "shadow" not in caps[0], info
    assert "xen_version            : 4.17" in info


def test_real_live_move_refused_before_the_guest_is_touched(xen):
    res = migrate(xen, HOSTS[0], HOSTS[1])
    assert res.get("failed"), res
    assert "without shadow paging" in res["msg"] and "mode=cold" in res["msg"], res["msg"]
    assert res.get("location", "source") == "source"
    assert where() == ["xt1"] and state(HOSTS[0]) in ("r", "b")


def test_real_cold_move_there_and_back(xen):
    res = migrate(xen, HOSTS[0], HOSTS[1], check_mode=True, mode="cold")
    assert not res.get("failed") and res["changed"], res
    assert where() == ["xt1"]                      # check mode moved nothing

    there = migrate(xen, HOSTS[0], HOSTS[1], mode="cold")
    assert not there.get("failed") and there["changed"], there
    assert where() == ["xt2"] and state(HOSTS[1]) in ("r", "b")
    assert there["stats"]["mode"] == "cold" and there["downtime_ms"] == there["total_time_ms"] > 0
    assert run(HOSTS[0]["address"], "ls /var/lib/xen/save").stdout.strip() == ""   # save file removed

    again = migrate(xen, HOSTS[0], HOSTS[1], mode="cold")
    assert not again.get("failed") and not again["changed"], again

    back = migrate(xen, HOSTS[1], HOSTS[0], mode="cold")
    assert not back.get("failed") and back["changed"], back
    assert where() == ["xt1"] and state(HOSTS[0]) in ("r", "b")
