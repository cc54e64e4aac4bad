# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation, rendering and planning of initramfs_iscsi (no processes; a fake root in tmp_path)."""

import os
import stat
import subprocess

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _initramfs as ir
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _cmdline as cm
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _render as rd

TARGET = "iqn.2024-01.lab.sanboot:guest1"
INITIATOR = "iqn.2024-01.lab.sanboot:guest1-boot"


def params(**kw):
    p = dict(root="/", target=TARGET, portals=["198.51.100.10"], port=3260, lun=1,
             initiator_name=INITIATOR, chap=None, firmware=False, root_device=None,
             lvm_settle_delay=0, clocksource=None, boot_interface=None, ip=None, update=True,
             kernels=["all"])
    p.update(kw)
    return p


def req(**kw):
    return ir.normalise(params(**kw))[0]


def make_root(tmp_path, kernels=("6.1.0-28-amd64",), initiator=True):
    root = tmp_path / "root"
    for rel in ("usr/sbin/update-initramfs", "usr/share/initramfs-tools/hooks/iscsi",
                "usr/sbin/iscsistart"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\n")
    for k in kernels:
        (root / "boot").mkdir(exist_ok=True)
        (root / "boot" / ("vmlinuz-" + k)).write_text("kernel")
        (root / "lib/modules" / k).mkdir(parents=True)
    if initiator:
        (root / "etc/iscsi").mkdir(parents=True)
        (root / "etc/iscsi/initiatorname.iscsi").write_text(
            "## DO NOT EDIT OR REMOVE THIS FILE!\nInitiatorName=iqn.1993-08.org.debian:01:abc\n")
    return str(root)


# ---- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("kw,msg", [
    (dict(target="iqn.2008.06.biz.frode:storage.vmware"), "dot between year and month"),
    (dict(target=None), "target: required unless firmware"),
    (dict(portals=[]), "portals: at least one"),
    (dict(portals=["198.51.100.10:3260"]), r"portals\[0\].*not an IP address"),
    (dict(portals=["198.51.100.10", "198.51.100.10"]), "listed twice"),
    (dict(initiator_name="iqn.2024-13.x:y"), "month 13"),
    (dict(chap=dict(username="u", password="short")), "at least 12 characters"),
    (dict(chap=dict(username="u")), "username and password go together"),
    (dict(chap=dict(mutual_username="m", mutual_password="mutualsecret12")), "one-way"),
    (dict(port=70000), "port: 70000"),
    (dict(lun=-1), "lun: -1"),
    (dict(lvm_settle_delay=-1), "lvm_settle_delay"),
    (dict(clocksource="jiffies; reboot"), "clocksource"),
    (dict(boot_interface="eth0/1"), "boot_interface"),
    (dict(ip="198.51.100.30"), "neither 'dhcp'"),
    (dict(ip="198.51.100.300::::h:eth0:off"), "client address"),
    (dict(ip={"address": "198.51.100.30"}), "ip.prefix"),
    (dict(ip={"address": "198.51.100.30/25", "gateway": "198.51.100.200"}), "not in"),
    (dict(ip={"address": "2001:db8::1/64"}), "IPv4 only"),
    (dict(portals=["198.51.100.10", "198.51.100.138"]), "root_device: required"),
    (dict(firmware=True), "target: not allowed with firmware"),
    (dict(firmware=True, target=None, portals=[]), "root_device: required"),
    (dict(root_device="sda1"), "root_device"),
    (dict(kernels=["all", "6.1"]), "kernels"),
    (dict(root_device='LABEL=a"b'), "root_device: .*kernel command line"),
    (dict(root_device="LABEL=ab\n"), "root_device: .*control character"),
    (dict(root_device="/dev/sda1 init=/bin/sh"), "root_device"),
    (dict(clocksource="tsc\n"), "clocksource: .*control character"),
    (dict(boot_interface="eth0\n"), "boot_interface"),
    (dict(ip={"address": "198.51.100.30/25", "hostname": "a'b"}), "ip.hostname"),
    (dict(ip="198.51.100.30::198.51.100.1:255.255.255.128:a b:eth0:off"), "ip: "),
    (dict(ip="198.51.100.30::198.51.100.1:255.255.255.128:h:et/h0:off"), "ip: device field"),
    (dict(chap=dict(username="u\x1b", password="secretsecret12")), "chap.username"),
    (dict(chap=dict(username="u", password="secret\rsecret12")), "chap.password"),
    (dict(kernels=["6.1\n"]), r"kernels\[0\]"),
])
def test_bad_input(kw, msg):
    with pytest.raises(ir.RequestError, match=msg):
        ir.normalise(params(**kw))


def test_upper_case_target_folded_with_warning():
    r, warnings = ir.normalise(params(target=TARGET.upper().replace("IQN", "iqn")))
    assert r["target"] == TARGET and "lower case" in warnings[0]


# ---- kernel command line -------------------------------------------------------------------

def test_cmdline_default_dhcp_and_root_iscsi():
    assert cm.kernel_cmdline(req()) == ["ip=dhcp",
                                        "root=iscsi:198.51.100.10::3260:1:" + TARGET]


def test_cmdline_static_dict_interface_clocksource():
    r = req(ip={"address": "198.51.100.40", "prefix": 25, "gateway": "198.51.100.1",
                "hostname": "guest1"}, boot_interface="eth0", clocksource="jiffies",
            portals=["198.51.100.10", "198.51.100.138"], root_device="/dev/mapper/vg0-root")
    assert cm.kernel_cmdline(r) == [
        "ip=198.51.100.40::198.51.100.1:255.255.255.128:guest1:eth0:off",
        "root=/dev/mapper/vg0-root", "clocksource=jiffies"]


def test_cmdline_passthrough_and_dhcp_interface():
    assert req(ip="198.51.100.40::198.51.100.1:255.255.255.128:g::off")["ip_param"] == \
        "ip=198.51.100.40::198.51.100.1:255.255.255.128:g::off"
    assert req(ip="dhcp", boot_interface="ens3")["ip_param"] == "ip=:::::ens3:dhcp"
    with pytest.raises(ir.RequestError, match="differs from boot_interface"):
        req(ip="198.51.100.40::::g:eth1:off", boot_interface="eth0")


def test_cmdline_firmware_has_no_ip():
    r = req(firmware=True, target=None, portals=[], root_device="LABEL=root")
    assert cm.kernel_cmdline(r) == ["root=LABEL=root"]


# ---- rendering -----------------------------------------------------------------------------

def test_iscsi_conf_multi_portal_mutual_chap_is_valid_shell():
    r = req(portals=["198.51.100.10", "198.51.100.138"], root_device="LABEL=r", port=3261,
            chap=dict(username="guest1", password="it's a secret!",
                      mutual_username="target1", mutual_password="mutual-secret-1"))
    text = ir.render_iscsi_conf(r)
    assert "ISCSI_TARGET_IP='198.51.100.10 198.51.100.138'\n" in text
    out = subprocess.run(["sh", "-c", text + 'printf "%s|" "$ISCSI_TARGET_NAME" "$ISCSI_TARGET_IP" '
                          '"$ISCSI_TARGET_PORT" "$ISCSI_USERNAME" "$ISCSI_PASSWORD" '
                          '"$ISCSI_IN_USERNAME" "$ISCSI_IN_PASSWORD"'],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    assert out == "%s|198.51.100.10 198.51.100.138|3261|guest1|it's a secret!|target1|" \
                  "mutual-secret-1|" % TARGET
    redacted = rd.redact_conf(text)
    assert "secret" not in redacted.replace("mutual-secret", "") and "ISCSI_PASSWORD=********" in redacted


def test_iscsi_conf_firmware():
    text = ir.render_iscsi_conf(req(firmware=True, target=None, portals=[], root_device="LABEL=r"))
    assert "ISCSI_AUTO=true\n" in text and "ISCSI_TARGET" not in text


def test_initiator_file():
    before = "## DO NOT EDIT\nInitiatorName=iqn.1993-08.org.debian:01:abc\n"
    assert ir.render_initiator(before, INITIATOR) == "## DO NOT EDIT\nInitiatorName=%s\n" % INITIATOR
    assert ir.render_initiator("GenerateName=yes", INITIATOR) == "InitiatorName=%s\n" % INITIATOR
    assert ir.render_initiator(None, INITIATOR).endswith("InitiatorName=%s\n" % INITIATOR)
    assert ir.initiator_in(before) == "iqn.1993-08.org.debian:01:abc"
    assert ir.initiator_in("GenerateName=yes\n") is None


def test_settle_script_is_valid_shell_and_ordered_after_iscsi(tmp_path):
    script = tmp_path / "s"
    script.write_text(ir.render_settle(7))
    subprocess.run(["sh", "-n", str(script)], check=True)
    out = subprocess.run(["sh", str(script), "prereqs"], stdout=subprocess.PIPE, check=True)
    assert out.stdout == b"iscsi\n"
    assert "delay=7\n" in script.read_text()


INTERFACES = """# The loopback network interface
auto lo eth0
iface lo inet loopback

allow-hotplug eth0
iface eth0 inet static
\taddress 198.51.100.40/25
\tgateway 198.51.100.1
# keep this comment
iface eth0:1 inet static
    address 198.51.100.41/25

auto eth1\r
iface eth1 inet dhcp\r
source /etc/network/interfaces.d/*
"""


def test_comment_interface_keeps_other_bytes():
    out = ir.comment_interface(INTERFACES, "eth0")
    c = rd.COMMENT
    assert out == (
        "# The loopback network interface\n"
        "%sauto lo eth0\nauto lo\n"
        "iface lo inet loopback\n\n"
        "%sallow-hotplug eth0\n"
        "%siface eth0 inet static\n%s\taddress 198.51.100.40/25\n%s\tgateway 198.51.100.1\n"
        "# keep this comment\n"
        "%siface eth0:1 inet static\n%s    address 198.51.100.41/25\n\n"
        "auto eth1\r\niface eth1 inet dhcp\r\nsource /etc/network/interfaces.d/*\n"
    ) % ((c,) * 7)
    assert ir.comment_interface(out, "eth0") == out
    assert ir.comment_interface(INTERFACES, "eth7") == INTERFACES


# ---- planning on a fake root ---------------------------------------------------------------

def test_check_root_and_kernels(tmp_path):
    assert ir.check_root(str(tmp_path / "nope")) == ["root: %s is not a directory" % (tmp_path / "nope")]
    empty = tmp_path / "empty"
    empty.mkdir()
    errors = ir.check_root(str(empty))
    assert len(errors) == 3 and "initramfs-tools is not installed" in errors[0]
    with pytest.raises(ir.RequestError, match="no kernel"):
        ir.select_kernels(["all"], ir.installed_kernels(str(empty)), str(empty))
    root = make_root(tmp_path, kernels=("6.1.0-27-amd64", "6.1.0-28-amd64"))
    assert ir.check_root(root) == []
    assert ir.installed_kernels(root) == ["6.1.0-27-amd64", "6.1.0-28-amd64"]
    assert ir.select_kernels(["6.1.0-28-amd64"], ir.installed_kernels(root), root) == ["6.1.0-28-amd64"]
    with pytest.raises(ir.RequestError, match="kernels: 5.10 not installed"):
        ir.select_kernels(["5.10"], ir.installed_kernels(root), root)


def apply(root, r):
    plan, warnings = ir.plan_files(r, root)
    for c in plan:
        if c.changed:
            ir.write_file(root, c)
    return [c.rel for c in plan if c.changed], warnings


def test_plan_apply_idempotent(tmp_path):
    root = make_root(tmp_path)
    r = req(chap=dict(username="guest1", password="secretsecret12"), lvm_settle_delay=5)
    changed = apply(root, r)[0]
    assert changed == [ir.ISCSI_CONF, ir.INITIATOR_FILE, ir.UMASK_CONF, ir.SETTLE_SCRIPT]
    assert stat.S_IMODE(os.stat(os.path.join(root, ir.ISCSI_CONF)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(root, ir.SETTLE_SCRIPT)).st_mode) == 0o755
    assert apply(root, r)[0] == []
    assert ir.kernels_to_rebuild(["6.1.0-28-amd64"], False, root) == ["6.1.0-28-amd64"]
    open(ir.initrd_path(root, "6.1.0-28-amd64"), "w").close()
    assert ir.kernels_to_rebuild(["6.1.0-28-amd64"], False, root) == []
    assert ir.kernels_to_rebuild(["6.1.0-28-amd64"], True, root) == ["6.1.0-28-amd64"]
    # settle delay back to 0 and no CHAP: our script and umask file go away
    changed = apply(root, req())[0]
    assert set(changed) == {ir.ISCSI_CONF, ir.UMASK_CONF, ir.SETTLE_SCRIPT}
    assert not os.path.exists(os.path.join(root, ir.SETTLE_SCRIPT))


def test_plan_fixes_mode_of_secret_file(tmp_path):
    root = make_root(tmp_path)
    r = req()
    apply(root, r)
    os.chmod(os.path.join(root, ir.ISCSI_CONF), 0o644)
    assert apply(root, r)[0] == [ir.ISCSI_CONF]


def test_plan_needs_an_initiator_name(tmp_path):
    root = make_root(tmp_path, initiator=False)
    with pytest.raises(ir.RequestError, match="initiator_name: required"):
        ir.plan_files(req(initiator_name=None), root)
    assert ir.INITIATOR_FILE in apply(root, req())[0]


def test_plan_boot_interface_all_managers(tmp_path):
    root = make_root(tmp_path)
    for rel in ("lib/systemd/systemd-networkd", "usr/sbin/NetworkManager"):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        open(os.path.join(root, rel), "w").close()
    os.makedirs(os.path.join(root, "etc/network/interfaces.d"))
    with open(os.path.join(root, ir.IFUPDOWN_FILE), "w") as f:
        f.write(INTERFACES)
    with open(os.path.join(root, "etc/network/interfaces.d/eth0"), "w") as f:
        f.write("auto eth0\niface eth0 inet dhcp\n")
    changed, warnings = apply(root, req(boot_interface="eth0"))
    assert {ir.IFUPDOWN_FILE, "etc/network/interfaces.d/eth0", ir.NETWORKD_FILE % "eth0",
            ir.NM_FILE % "eth0"} <= set(changed) and warnings == []
    with open(os.path.join(root, ir.NETWORKD_FILE % "eth0")) as f:
        assert "Name=eth0\n\n[Link]\nUnmanaged=yes\n" in f.read()
    with open(os.path.join(root, ir.WAIT_ONLINE_FILE)) as f:
        assert "[Service]\nExecStart=\nExecStart=/bin/true\n" in f.read()
    with open(os.path.join(root, ir.NM_FILE % "eth0")) as f:
        assert "unmanaged-devices+=interface-name:eth0\n" in f.read()
    assert apply(root, req(boot_interface="eth0"))[0] == []


def test_plan_boot_interface_without_manager_warns(tmp_path):
    root = make_root(tmp_path)
    assert "nothing to tell" in apply(root, req(boot_interface="eth0"))[1][0]


def test_update_argv():
    assert ir.update_argv("/", "6.1") == ["update-initramfs", "-u", "-k", "6.1"]
    assert ir.update_argv("/img", "6.1") == ["chroot", "/img", "update-initramfs", "-u", "-k", "6.1"]


def test_diff_entry_absent_headers(tmp_path):
    c = ir.FileChange("etc/x", None, "new\n")
    d = ir.diff_entry(c, "/img")
    assert d["before_header"] == "/img/etc/x (absent)" and d["after"] == "new\n"
