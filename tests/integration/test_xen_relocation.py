# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role xen_relocation run for real by ansible-playbook, on two "dom0s" that are directories.

No Xen hypervisor (nor xend) runs on this machine: each dom0 is a scratch root
(``xen_relocation_root``) holding the STOCK xend-config.sxp of Xen 4.2.2
(tools/examples/xend-config.sxp, fixtures/xen/) and a real ssh host key, and the restart
handler talks to a FAKE systemctl (tests/integration/fakes/xen/systemctl) that records its
arguments.  The rendered xend-config.sxp is read back with the module's own s-expression
parser and relocation checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _xm as xm

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKES = os.path.join(REPO, "tests", "integration", "fakes", "xen")
STOCK = os.path.join(REPO, "tests", "integration", "fixtures", "xen", "xend-config.sxp-xen-4.2.2")
HOSTS = {"dom1": "198.51.100.71", "dom2": "198.51.100.72"}
CMDLINE = ["ip=198.51.100.40::198.51.100.1:255.255.255.128:guest1:eth0:off",
           "root=/dev/sda1", "ISCSI_TARGET_NAME=iqn.2024-01.lab.sanboot:guest1"]

PLAY = """
- name: Xen dom0s accept migrations
  hosts: xen_dom0s
  gather_facts: false
  environment:
    FAKE_SERVICE_LOG: "{{ xen_relocation_root }}/service.log"
  roles:
    - role: xen_relocation
"""


@pytest.fixture
def lab(tmp_path):
    for name in HOSTS:
        root = tmp_path / name
        (root / "etc" / "xen").mkdir(parents=True)
        (root / "etc" / "ssh").mkdir(parents=True)
        shutil.copy(STOCK, root / "etc" / "xen" / "xend-config.sxp")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" + name,
                        "-f", str(root / "etc" / "ssh" / "ssh_host_ed25519_key")], check=True)
    (tmp_path / "site.yml").write_text(PLAY)
    return tmp_path


def inventory(tmp, hosts=None, **group_vars):
    hosts = HOSTS if hosts is None else hosts
    data = {"all": {"vars": dict(ansible_connection="local",
                                 ansible_python_interpreter=os.path.join(REPO, ".venv", "bin",
                                                                         "python"),
                                 xen_relocation_service_use="systemd", **group_vars),
                    "children": {"xen_dom0s": {"hosts": dict(
                        (name, {"ansible_host": addr, "xen_relocation_root": str(tmp / name)})
                        for name, addr in hosts.items())}}}}
    path = tmp / "inventory.json"
    path.write_text(json.dumps(data))
    return path


def play(tmp, inv):
    env = dict(os.environ, ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp / ".ansible-tmp"),
               PATH=FAKES + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(inv),
                           str(tmp / "site.yml")], cwd=REPO, env=env, capture_output=True,
                          text=True, check=False)
    try:
        out = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook: %s\n%s" % (proc.stdout, proc.stderr))
    failures = [(host, task["task"]["name"], res.get("msg"))
                for p in out["plays"] for task in p["tasks"]
                for host, res in task["hosts"].items() if res.get("failed")]
    return proc.returncode, out["stats"], failures


def service_calls(tmp, host):
    path = tmp / host / "service.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_xend_relocation_in_place_and_idempotent(lab):
    inv = inventory(lab, xen_relocation_toolstack="xend")
    rc, stats, failures = play(lab, inv)
    assert (rc, failures) == (0, [])
    assert stats["dom1"]["changed"] > 0
    text = (lab / "dom1" / "etc" / "xen" / "xend-config.sxp").read_text()
    stock = open(STOCK).read().splitlines()
    lines = text.splitlines()
    # exactly four lines differ, each replaced in place (same line count, same positions)
    assert len(lines) == len(stock)
    changed = [(old, new) for old, new in zip(stock, lines) if old != new]
    assert changed == [
        ("#(xend-relocation-server no)", "(xend-relocation-server yes)"),
        ("#(xend-relocation-port 8002)", "(xend-relocation-port 8002)"),
        ("#(xend-relocation-address '')", "(xend-relocation-address '198.51.100.71')"),
        (r"(xend-relocation-hosts-allow '^localhost$ ^localhost\\.localdomain$')",
         r"(xend-relocation-hosts-allow '^dom2$ ^198\\.51\\.100\\.72$')"),
    ]
    settings = xm.config_settings(text)
    assert settings["xend-relocation-hosts-allow"] == r"^dom2$ ^198\.51\.100\.72$"
    listeners = [{"address": "198.51.100.71", "port": 8002, "processes": [("xend", 1)]}]
    assert xm.relocation_problems(settings, listeners, ["dom2"]) == []
    assert xm.relocation_problems(settings, listeners, ["198.51.100.72"]) == []
    assert xm.relocation_problems(settings, listeners, ["198.51.100.7"]) != []   # anchored
    assert xm.relocation_problems(settings, listeners, ["dom1"]) != []
    # the handler restarted xend once per dom0, through the (fake) systemctl
    for host in HOSTS:
        assert ["systemctl", "restart", "xend"] in [c[:3] for c in service_calls(lab, host)]
        assert [c[:3] for c in service_calls(lab, host)].count(["systemctl", "restart", "xend"]) == 1

    before = dict((h, service_calls(lab, h)) for h in HOSTS)
    rc, stats, failures = play(lab, inv)
    assert (rc, failures) == (0, [])
    assert stats["dom1"]["changed"] == 0 and stats["dom2"]["changed"] == 0
    assert dict((h, service_calls(lab, h)) for h in HOSTS) == before   # no restart


def test_open_relocation_refused_unless_asked(lab):
    inv = inventory(lab, hosts={"dom1": HOSTS["dom1"]}, xen_relocation_toolstack="xend")
    rc, _stats, failures = play(lab, inv)
    assert rc != 0
    (host, _task, msg), = failures
    assert host == "dom1" and "lets EVERY host" in msg and "xen_relocation_allow_all" in msg
    assert (lab / "dom1" / "etc" / "xen" / "xend-config.sxp").read_text() == open(STOCK).read()
    assert service_calls(lab, "dom1") == []

    inv = inventory(lab, hosts={"dom1": HOSTS["dom1"]}, xen_relocation_toolstack="xend",
                    xen_relocation_allow_all=True)
    rc, _stats, failures = play(lab, inv)
    assert (rc, failures) == (0, [])
    text = (lab / "dom1" / "etc" / "xen" / "xend-config.sxp").read_text()
    assert "\n(xend-relocation-hosts-allow '')\n" in text
    assert xm.config_settings(text)["xend-relocation-hosts-allow"] == ""


def test_xl_ssh_trust_and_domu_config(lab):
    domus = [{"name": "guest1", "kernel": "/boot/vmlinuz-6.1.0-18-amd64",
              "ramdisk": "/boot/initrd.img-6.1.0-18-amd64", "kernel_cmdline": CMDLINE,
              "extra": "console=hvc0", "memory": 512},
             {"name": "guest2", "kernel": "/boot/vmlinuz", "mac": "00:16:3E:AA:BB:CC",
              "kernel_cmdline": CMDLINE + ["clocksource=xen"], "bridge": "sanbr0"}]
    inv = inventory(lab, xen_relocation_toolstack="xl", xen_relocation_domus=domus)
    rc, stats, failures = play(lab, inv)
    assert (rc, failures) == (0, [])
    for me, peer in (("dom1", "dom2"), ("dom2", "dom1")):
        ssh = lab / me / "root" / ".ssh"
        assert oct(os.stat(ssh).st_mode & 0o777) == "0o700"
        peer_key = (lab / peer / "root" / ".ssh" / "id_ed25519.pub").read_text().split()[:2]
        authorized = (ssh / "authorized_keys").read_text()
        assert " ".join(peer_key) in authorized and "xl-migrate@%s" % peer in authorized
        my_key = (lab / me / "root" / ".ssh" / "id_ed25519.pub").read_text().split()[1]
        assert my_key not in authorized
        host_key = (lab / peer / "etc" / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()
        known = (ssh / "known_hosts").read_text().splitlines()
        assert "%s %s %s" % (HOSTS[peer], host_key[0], host_key[1]) in known
        assert "%s %s %s" % (peer, host_key[0], host_key[1]) in known
        # ssh-keygen reads both files as valid
        subprocess.run(["ssh-keygen", "-F", HOSTS[peer], "-f", str(ssh / "known_hosts")],
                       check=True, capture_output=True)
    assert not any(c for h in HOSTS for c in service_calls(lab, h))   # xl: no xend restart

    cfg1 = (lab / "dom1" / "etc" / "xen" / "guest1.cfg").read_text()
    assert cfg1 == (lab / "dom2" / "etc" / "xen" / "guest1.cfg").read_text()   # same MAC too
    settings = dict(line.split(" = ", 1) for line in cfg1.splitlines()
                    if " = " in line and not line.startswith("#"))
    assert settings["kernel"] == '"/boot/vmlinuz-6.1.0-18-amd64"'
    assert settings["ramdisk"] == '"/boot/initrd.img-6.1.0-18-amd64"'
    assert settings["extra"] == '"%s"' % " ".join(["console=hvc0"] + CMDLINE +
                                                  ["clocksource=jiffies"])
    assert settings["type"] == '"pv"' and settings["memory"] == "512"
    mac = settings["vif"].split("mac=")[1].split(",")[0]
    assert mac.startswith("00:16:3e:") and int(mac.split(":")[3], 16) < 0x80
    assert "bridge=xenbr0" in settings["vif"]
    assert "disk" not in settings
    cfg2 = (lab / "dom1" / "etc" / "xen" / "guest2.cfg").read_text()
    assert "mac=00:16:3e:aa:bb:cc,bridge=sanbr0" in cfg2
    extra2 = [line for line in cfg2.splitlines() if line.startswith("extra = ")][0]
    assert extra2.count("clocksource=") == 1 and "clocksource=xen" in extra2

    rc, stats, failures = play(lab, inv)
    assert (rc, failures) == (0, [])
    assert stats["dom1"]["changed"] == 0 and stats["dom2"]["changed"] == 0


def test_domu_with_a_disk_is_refused(lab):
    domus = [{"name": "bad", "kernel": "/boot/vmlinuz", "disk": ["file:/srv/bad.img,xvda,w"]}]
    inv = inventory(lab, hosts={"dom1": HOSTS["dom1"]}, xen_relocation_toolstack="xl",
                    xen_relocation_ssh_trust=False, xen_relocation_domus=domus)
    rc, _stats, failures = play(lab, inv)
    # refused by the role's argument spec (domU options have no disk), before any task
    assert rc != 0 and "xen_relocation_domus.disk" in failures[0][2]
    assert not (lab / "dom1" / "etc" / "xen" / "bad.cfg").exists()
