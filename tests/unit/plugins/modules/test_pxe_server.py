# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_server's main() with a scripted run_command (``ip`` and ``dnsmasq --test`` answered here;
the TFTP root and the config file in tmp_path; no processes)."""

import json
import os
import pwd
import re

import pytest

from _helper import run_main  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import pxe_server

SECRET = "s3cret-chap-pw"
IP_JSON = json.dumps([{"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
                      {"ifname": "sbpxe0", "addr_info": [{"family": "inet", "local": "198.51.100.130", "prefixlen": 25}]}])


def args(tmp_path, **kw):
    a = dict(
        config_path=str(tmp_path / "etc" / "pxe.conf"), tftp_root=str(tmp_path / "tftp"),
        tftp_user=pwd.getpwuid(os.getuid()).pw_name,
        allowed_networks=["198.51.100.0/24"],
        networks=[dict(interface="sbpxe0", cidr="198.51.100.128/25", range_start="198.51.100.200",
                       range_end="198.51.100.220")],
        hosts=[dict(mac="02:5b:00:00:10:02", ip="198.51.100.142", hostname="guest2", boot="san"),
               dict(mac="02:5b:00:00:10:03", ip="198.51.100.143", hostname="guest3", boot="kern")],
        boot_entries=[dict(name="san", type="ipxe_sanboot_iscsi", target="iqn.2024-01.lab.sanboot:guest2",
                           portal="198.51.100.10", initiator="iqn.2024-01.lab.sanboot:guest2-boot",
                           chap=dict(username="guest2", password=SECRET)),
                      dict(name="kern", type="kernel", kernel="images/current/vmlinuz",
                           initrd=["images/current/initrd.img"], cmdline="ro")],
        generations=[dict(name="g1", files={"vmlinuz": str(tmp_path / "vmlinuz"), "initrd.img": str(tmp_path / "initrd.img")})],
    )
    a.update(kw)
    return a


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "tftp").mkdir()
    for name in ("undionly.kpxe", "pxelinux.0", "ldlinux.c32"):
        (tmp_path / "tftp" / name).write_bytes(b"loader")
    (tmp_path / "vmlinuz").write_bytes(b"kernel")
    (tmp_path / "initrd.img").write_bytes(b"initrd")
    return tmp_path


def run(monkeypatch, module_args, check=False, dnsmasq_rc=0):
    calls = []

    def run_command(self, argv, **kw):
        calls.append(argv)
        if argv[0].endswith("/ip"):
            return 0, IP_JSON, ""
        if argv[0].endswith("/dnsmasq"):
            assert open(argv[-1]).read().startswith("# Managed by sanboot.lab.pxe_server")
            return dnsmasq_rc, "", "dnsmasq: bad option at line 3" if dnsmasq_rc else "dnsmasq: syntax check OK."
        raise AssertionError(argv)

    data = dict(module_args, _ansible_check_mode=check, _ansible_diff=True,
                _ansible_remote_tmp=module_args["tftp_root"] + "-tmp", _ansible_keep_remote_files=False)
    result = run_main(monkeypatch, pxe_server, data, run_command, bin_path=lambda n: "/usr/sbin/" + n)
    return result, [[os.path.basename(argv[0])] + list(argv[1:3]) for argv in calls]


def test_check_then_apply_then_idempotent(monkeypatch, tree):
    a = args(tree)
    result, calls = run(monkeypatch, a, check=True)
    assert not result["failed"] and result["changed"] and result["restart_needed"]
    assert calls == [["ip", "-j", "-4"], ["dnsmasq", "--test", "-C"]]
    assert not (tree / "etc" / "pxe.conf").exists() and not (tree / "tftp" / "ipxe").exists()

    result, calls = run(monkeypatch, a)
    assert result["changed"] and result["restart_needed"] and result["current_generation"] == "g1"
    assert str(tree / "etc" / "pxe.conf") in result["files"]
    assert str(tree / "tftp" / "ipxe" / "guest2.ipxe") in result["files"]
    assert "dhcp-boot=tag:sbhost-guest2,tag:ipxe,ipxe/guest2.ipxe" in (tree / "etc" / "pxe.conf").read_text()
    assert (tree / "tftp" / "images" / "current" / "vmlinuz").read_bytes() == b"kernel"
    assert SECRET in (tree / "tftp" / "ipxe" / "guest2.ipxe").read_text()
    assert SECRET not in json.dumps(result["diff"])
    assert [d["after_header"] for d in result["diff"]][-1] == str(tree / "etc" / "pxe.conf")

    result, calls = run(monkeypatch, a)
    assert not result["changed"] and not result["restart_needed"] and result["files"] == []
    assert calls == [["ip", "-j", "-4"]]


def test_a_new_generation_switches_without_restart(monkeypatch, tree):
    run(monkeypatch, args(tree))
    (tree / "v2").write_bytes(b"kernel 2")
    a = args(tree)
    a["generations"].append(dict(name="g2", files={"vmlinuz": str(tree / "v2"), "initrd.img": str(tree / "initrd.img")}))
    result, _calls = run(monkeypatch, a)
    assert result["changed"] and not result["restart_needed"]
    assert result["generations"] == ["g1", "g2"] and result["current_generation"] == "g2"
    assert (tree / "tftp" / "images" / "current" / "vmlinuz").read_bytes() == b"kernel 2"
    result, _calls = run(monkeypatch, dict(a, current_generation="g1"))
    assert result["changed"] and [d["after"] for d in result["diff"]] == ["-> g1\n"]


@pytest.mark.parametrize("change,msg", [
    (dict(allowed_networks=["192.0.2.0/24"]), r"^networks\[0\].cidr: 198.51.100.128/25 is not inside allowed_networks"),
    (dict(networks=[dict(interface="eth9", cidr="198.51.100.128/25")]), r"^networks\[0\].interface: eth9 does not exist"),
    (dict(tftp_user="no-such-user-x"), r"^tftp_user: no user no-such-user-x"),
    (dict(generations=[]), r"^boot_entries\[1\].kernel: images/current/vmlinuz does not exist"),
])
def test_bad_input_fails_before_anything_changes(monkeypatch, tree, change, msg):
    result, calls = run(monkeypatch, args(tree, **change))
    assert result["failed"]
    assert re.search(msg, result["msg"]), result["msg"]
    assert ["dnsmasq", "--test", "-C"] not in calls
    assert sorted(os.listdir(str(tree / "tftp"))) == ["ldlinux.c32", "pxelinux.0", "undionly.kpxe"]
    assert not (tree / "etc" / "pxe.conf").exists()


def test_a_config_dnsmasq_refuses_is_never_put_in_place(monkeypatch, tree):
    result, _calls = run(monkeypatch, args(tree), dnsmasq_rc=1)
    assert result["failed"] and "dnsmasq --test refused" in result["msg"] and "line 3" in result["stderr"]
    assert not (tree / "etc" / "pxe.conf").exists() and not (tree / "tftp" / "images").exists()
