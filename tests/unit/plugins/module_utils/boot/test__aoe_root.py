# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation, rendering and planning of initramfs_aoe (a fake image root in tmp_path), and the
boot script run by dash against a fake initramfs (paths rewritten into tmp_path, stub tools)."""

import os
import re
import shutil
import stat
import subprocess

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _aoe_root as aoe
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _aoe_render as rd
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _initramfs as ir

KERNEL = "6.1.0-28-amd64"


def params(**kw):
    p = dict(root="/", state="present", shelf=3, slot=1, interfaces=["eth0"], timeout=30, ip=None,
             root_fstype="ext4", update=True, kernels=["all"])
    p.update(kw)
    return p


def req(**kw):
    return aoe.normalise(params(**kw))


def make_root(tmp_path, kernels=(KERNEL,), driver=True):
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/update-initramfs").write_text("#!/bin/sh\n")
    (root / "boot").mkdir()
    for k in kernels:
        (root / "boot" / ("vmlinuz-" + k)).write_text("kernel")
        (root / "lib/modules" / k).mkdir(parents=True)
        if driver:
            (root / "lib/modules" / k / "kernel/drivers/block/aoe").mkdir(parents=True)
            (root / "lib/modules" / k / "kernel/drivers/block/aoe/aoe.ko").write_text("")
    return str(root)


def apply(root, r):
    plan = aoe.plan_files(r, root)
    for c in plan:
        if c.changed:
            ir.write_file(root, c)
    return [c.rel for c in plan if c.changed]


# ---- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("kw,option,msg", [
    (dict(shelf=65535), "shelf", r"65535 is out of range 0-65534 .*0xffff is the broadcast shelf: AoE protocol r11"),
    (dict(shelf=-1), "shelf", "out of range"),
    (dict(shelf=None), "shelf", "required"),
    (dict(shelf=True), "shelf", "required"),
    (dict(slot=255), "slot", r"255 is out of range 0-254 .*0xff is the broadcast slot"),
    (dict(slot=-1), "slot", "out of range"),
    (dict(timeout=0), "timeout", "0 is out of range 1-600"),
    (dict(timeout=601), "timeout", "601 is out of range"),
    (dict(interfaces=[]), "interfaces", "at least one"),
    (dict(interfaces=["eth0", "a" * 16]), "interfaces[1]", "not a Linux interface name"),
    (dict(interfaces=["eth 0"]), "interfaces[0]", "not a Linux interface name"),
    (dict(interfaces=["eth0;reboot"]), "interfaces[0]", "not a Linux interface name"),
    (dict(interfaces=["-eth0"]), "interfaces[0]", "not a Linux interface name"),
    (dict(interfaces=[".."]), "interfaces[0]", "not a Linux interface name"),
    (dict(interfaces=["eth0\n"]), "interfaces[0]", "control character"),
    (dict(interfaces=["lo"]), "interfaces[0]", "loopback"),
    (dict(interfaces=["eth0", "eth0"]), "interfaces[1]", "listed twice"),
    (dict(ip="198.51.100.30"), "ip", "neither 'dhcp'"),
    (dict(ip={"address": "198.51.100.30"}), "ip.prefix", "ip.prefix"),
    (dict(ip="dhcp init=/bin/sh"), "ip", "kernel command line"),
    (dict(root_fstype="ext4 init=/bin/sh"), "root_fstype", "not a file system type"),
    (dict(root_fstype="../x"), "root_fstype", "not a file system type"),
    (dict(kernels=["all", KERNEL]), "kernels", "cannot be combined"),
])
def test_bad_input_names_the_option(kw, option, msg):
    with pytest.raises(aoe.RequestError, match=msg) as exc:
        aoe.normalise(params(**kw))
    assert exc.value.option == option
    assert str(exc.value).startswith(option.split("[")[0].split(".")[0])


def test_limits_accepted():
    r = req(shelf=65534, slot=254, timeout=600, interfaces=["a" * 15, "ens3.100", "bond_0"])
    assert r["device"] == "/dev/etherd/e65534.254"
    assert req(shelf=0, slot=0, timeout=1)["device"] == "/dev/etherd/e0.0"


def test_absent_needs_no_address():
    r = aoe.normalise(dict(root="/", state="absent", shelf=None, slot=None, interfaces=["eth0"],
                           timeout=30, ip=None, root_fstype="ext4", kernels=["all"]))
    assert aoe.kernel_cmdline(r) == []


def test_kernel_cmdline():
    assert aoe.kernel_cmdline(req()) == ["root=/dev/etherd/e3.1", "rootfstype=ext4", "ro"]
    r = req(ip={"address": "198.51.100.43/25", "gateway": "198.51.100.1", "hostname": "guest3"},
            root_fstype="xfs")
    assert aoe.kernel_cmdline(r) == ["root=/dev/etherd/e3.1", "rootfstype=xfs", "ro",
                                     "ip=198.51.100.43::198.51.100.1:255.255.255.128:guest3::off"]
    assert aoe.kernel_cmdline(req(ip="dhcp"))[-1] == "ip=dhcp"


# ---- rendering -----------------------------------------------------------------------------

def test_conf_is_shell_with_the_values(tmp_path):
    text = rd.render_conf(req(shelf=7, slot=0, interfaces=["eth0", "eth1"], timeout=45))
    assert "AOE_SHELF=7\nAOE_SLOT=0\nAOE_INTERFACES='eth0 eth1'\nAOE_TIMEOUT=45\n" in text
    out = subprocess.run(["sh", "-c", text + 'printf "%s|" "$AOE_SHELF" "$AOE_SLOT" "$AOE_INTERFACES" "$AOE_TIMEOUT"'],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    assert out == "7|0|eth0 eth1|45|"


def test_hook_adds_driver_tools_and_settings():
    text = rd.render_hook(req(root_fstype="xfs"))
    for line in ("manual_add_modules aoe\n", "manual_add_modules xfs\n", 'copy_exec "$bin"\n',
                 'copy_exec "$bin" /sbin/ip\n', "copy_file config \"$conf\" /conf/conf.d/sanboot-aoe\n"):
        assert line in text
    assert "/sbin/aoe-discover" in text and text.rstrip().endswith("exit 0")


@pytest.mark.parametrize("name", ["script", "hook"])
def test_shellcheck_and_sh_n(tmp_path, name):
    assert shutil.which("shellcheck"), "shellcheck is not installed (apt-get install shellcheck)"
    path = tmp_path / name
    path.write_text(rd.render_script() if name == "script" else rd.render_hook(req()))
    subprocess.run(["sh", "-n", str(path)], check=True)
    out = subprocess.run(["shellcheck", "-s", "sh", str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, check=False)
    assert out.returncode == 0, out.stdout.decode()
    prereqs = subprocess.run(["sh", str(path), "prereqs"], stdout=subprocess.PIPE, check=True)
    assert prereqs.stdout == b"\n"


# ---- planning on a fake root ---------------------------------------------------------------

def test_check_root_and_driver(tmp_path):
    assert aoe.check_root(str(tmp_path / "nope")) == ["root: %s is not a directory" % (tmp_path / "nope")]
    (tmp_path / "empty").mkdir()
    assert "initramfs-tools is not installed" in aoe.check_root(str(tmp_path / "empty"))[0]
    root = make_root(tmp_path, kernels=(KERNEL, "6.1.0-27-amd64"))
    assert aoe.check_root(root) == []
    assert aoe.select(req(), root) == ["6.1.0-27-amd64", KERNEL]
    os.unlink(os.path.join(root, "lib/modules/6.1.0-27-amd64/kernel/drivers/block/aoe/aoe.ko"))
    with pytest.raises(aoe.RequestError, match="kernels: 6.1.0-27-amd64 .* has no aoe driver") as exc:
        aoe.select(req(), root)
    assert exc.value.option == "kernels"
    assert aoe.select(req(kernels=[KERNEL]), root) == [KERNEL]
    with open(os.path.join(root, "lib/modules/6.1.0-27-amd64/modules.builtin"), "w") as f:
        f.write("kernel/drivers/block/loop.ko\nkernel/drivers/block/aoe/aoe.ko\n")
    assert aoe.select(req(), root) == ["6.1.0-27-amd64", KERNEL]
    assert aoe.select(dict(req(), state="absent"), str(tmp_path / "empty")) == []


def test_driver_behind_a_link_out_of_the_root_does_not_count(tmp_path):
    root = make_root(tmp_path, driver=False)
    outside = tmp_path / "host-modules"
    outside.mkdir()
    (outside / "aoe.ko").write_text("")
    os.makedirs(os.path.join(root, "lib/modules", KERNEL, "kernel/drivers/block"))
    os.symlink(str(outside), os.path.join(root, "lib/modules", KERNEL, "kernel/drivers/block/aoe"))
    assert not aoe.has_aoe_driver(root, KERNEL)


def test_plan_apply_idempotent_and_absent(tmp_path):
    root = make_root(tmp_path)
    r = req(interfaces=["eth0", "eth1"])
    assert apply(root, r) == [aoe.HOOK, aoe.SCRIPT, aoe.CONF]
    for rel, mode in aoe.FILES:
        assert stat.S_IMODE(os.stat(os.path.join(root, rel)).st_mode) == mode
    with open(os.path.join(root, aoe.CONF)) as f:
        assert "AOE_INTERFACES='eth0 eth1'\n" in f.read()
    assert apply(root, r) == []
    assert apply(root, req(interfaces=["eth0", "eth1"], timeout=60)) == [aoe.CONF]
    os.chmod(os.path.join(root, aoe.SCRIPT), 0o644)
    assert apply(root, req(interfaces=["eth0", "eth1"], timeout=60)) == [aoe.SCRIPT]
    absent = dict(r, state="absent")
    assert apply(root, absent) == [aoe.HOOK, aoe.SCRIPT, aoe.CONF]
    assert not any(os.path.exists(os.path.join(root, rel)) for rel, _mode in aoe.FILES)
    assert apply(root, absent) == []


def test_plan_writes_nothing(tmp_path):
    root = make_root(tmp_path)
    before = sorted(os.path.join(d, n) for d, _s, names in os.walk(root) for n in names)
    plan = aoe.plan_files(req(), root)
    assert [c.changed for c in plan] == [True, True, True]
    assert sorted(os.path.join(d, n) for d, _s, names in os.walk(root) for n in names) == before


@pytest.mark.parametrize("link", [aoe.HOOK, aoe.SCRIPT, aoe.CONF, "etc/initramfs-tools/scripts/local-top",
                                  "etc/initramfs-tools"])
def test_symlink_escape_refused_before_writing(tmp_path, link):
    root = make_root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep\n")
    path = os.path.join(root, link)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    target = str(outside / "victim") if link in (aoe.HOOK, aoe.SCRIPT, aoe.CONF) else str(outside)
    os.symlink(target, path)
    with pytest.raises(aoe.RequestError, match="^root: .*symbolic link") as exc:
        aoe.plan_files(req(), root)
    assert exc.value.option == "root"
    assert sorted(os.listdir(str(outside))) == ["victim"] and (outside / "victim").read_text() == "keep\n"


# ---- the boot script in a fake initramfs ---------------------------------------------------

FUNCTIONS = """
panic() { echo "PANIC: $*" >> "%(t)s/log"; }
log_begin_msg() { :; }
log_end_msg() { :; }
log_warning_msg() { echo "WARN: $*" >> "%(t)s/log"; }
wait_for_udev() { echo "wait_for_udev $*" >> "%(t)s/log"; }
configure_networking() { echo "configure_networking IP=$IP" >> "%(t)s/log"; }
"""


class Initramfs(object):
    """The script with its absolute paths moved below ``tmp``; PATH holds stubs only.
    ``appear_after``: the AoE disk appears at that ``aoe-discover`` call (a link to
    ``block_device``)."""

    def __init__(self, tmp, conf=None, cmdline="root=/dev/etherd/e3.1 ro", ip_tool=True,
                 appear_after=1, block_device=None):
        self.t = t = str(tmp)
        for d in ("scripts", "conf/conf.d", "etc", "run", "proc", "dev/etherd", "bin", "sys/class/net/eth0"):
            os.makedirs(os.path.join(t, d), exist_ok=True)
        self.write("scripts/functions", FUNCTIONS % {"t": t})
        self.write("proc/cmdline", cmdline + "\n")
        self.write("sys/class/net/eth0/flags", "0x1002\n")
        if conf is not None:
            self.write("conf/conf.d/sanboot-aoe", conf)
        self.script = re.sub(r"(?<=[\s\"'(=])/(scripts|conf|etc|run|proc|sys|dev)/", t + r"/\1/", rd.render_script())
        log = 'echo "%s $*" >> ' + t + "/log\n"
        self.stub("modprobe", "for a in \"$@\"; do echo \"modprobe [$a]\" >> %s/log; done\n" % t)
        self.stub("sleep", log % "sleep")
        self.stub("aoe-discover", log % "aoe-discover" + (
            'n=$(cat %(t)s/log | grep -c aoe-discover)\n[ "$n" -lt %(n)d ] || ln -sf %(dev)s %(t)s/dev/etherd/e%(addr)s\n'
            % {"t": t, "n": appear_after, "dev": block_device, "addr": "3.1"} if block_device else ""))
        if ip_tool:
            self.stub("ip", log % "ip")
        for tool in ("cat", "grep", "ln"):
            os.symlink(shutil.which(tool), os.path.join(t, "bin", tool))

    def write(self, rel, text):
        with open(os.path.join(self.t, rel), "w") as f:
            f.write(text)

    def stub(self, name, body):
        path = os.path.join(self.t, "bin", name)
        self.write(os.path.join("bin", name), "#!/bin/sh\n" + body)
        os.chmod(path, 0o755)

    def run(self, env=None):
        proc = subprocess.run(["/bin/sh", "-c", self.script, "sanboot-aoe"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=dict(env or {}, PATH=os.path.join(self.t, "bin")), check=False)
        return proc.returncode, self.read("log"), proc.stdout.decode()

    def read(self, rel):
        """The file's text with the fake initramfs' directory taken out of the paths again."""
        path = os.path.join(self.t, rel)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read().replace(self.t, "")


@pytest.fixture(name="blockdev")
def fixture_blockdev(tmp_path):
    """A block device node for ``[ -b ]`` (mknod as root, else one of the host's)."""
    path = str(tmp_path / "blk")
    try:
        os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(7, 250))
        return path
    except OSError:
        for name in sorted(os.listdir("/dev")):
            if stat.S_ISBLK(os.stat(os.path.join("/dev", name)).st_mode):
                return os.path.join("/dev", name)
    pytest.skip("no block device node to stand for the AoE disk (not root, none in /dev)")


CONF = rd.render_conf(dict(shelf=3, slot=1, interfaces=["eth0", "eth1"], timeout=30))


def test_script_finds_the_disk_and_reports(tmp_path, blockdev):
    fs = Initramfs(tmp_path / "i", conf=CONF, appear_after=3, block_device=blockdev)
    fs.write("etc/sanboot-boot-id", "20261202\n")
    rc, log, out = fs.run()
    assert rc == 0, out + (log or "")
    assert "modprobe [aoe]\nmodprobe [aoe_iflist=eth0 eth1]\n" in log
    assert "ip link set eth0 up\n" in log and "eth1 up" not in log       # eth1 does not exist
    assert log.count("aoe-discover") == 3 and log.count("sleep 1") == 2 and "PANIC" not in log
    assert "configure_networking" not in log and "wait_for_udev 10" in log
    assert fs.read("run/sanboot-aoe") == ("device=/dev/etherd/e3.1\nshelf=3\nslot=1\n"
                                          "interfaces=eth0 eth1\ntimeout_seconds=30\nwaited_seconds=2\n")
    assert fs.read("run/sanboot-boot-id") == "20261202\n"


def test_script_timeout_panics_naming_device_interfaces_and_timeout(tmp_path):
    fs = Initramfs(tmp_path / "i", conf=CONF, cmdline="root=/dev/etherd/e3.1 sanboot_aoe_timeout=4 ro")
    rc, log, out = fs.run()
    assert rc == 1, out
    assert log.count("aoe-discover") == 5 and log.count("sleep 1") == 4
    assert ("PANIC: sanboot-aoe: the AoE root /dev/etherd/e3.1 did not appear within 4 seconds on "
            "interface(s) eth0 eth1 (not found: eth1)") in log
    assert fs.read("run/sanboot-aoe") is None and fs.read("run/sanboot-boot-id") is None


def test_script_kernel_parameters_override_and_ip(tmp_path, blockdev):
    fs = Initramfs(tmp_path / "i", conf=CONF, cmdline="root=/dev/etherd/e9.4 sanboot_aoe=e9.4 ip=dhcp",
                   block_device=blockdev)
    os.symlink(blockdev, os.path.join(fs.t, "dev/etherd/e9.4"))
    rc, log, out = fs.run(env={"IP": "dhcp"})
    assert rc == 0, out + log
    assert "device=/dev/etherd/e9.4\nshelf=9\nslot=4\n" in fs.read("run/sanboot-aoe")
    assert "configure_networking IP=dhcp\n" in log and "waited_seconds=0\n" in fs.read("run/sanboot-aoe")


@pytest.mark.parametrize("cmdline,msg", [
    ("sanboot_aoe=3.1", "sanboot_aoe=3.1 is not e<shelf>.<slot>"),
    ("sanboot_aoe=e65535.1", "AoE address e65535.1 is not e<0-65534>.<0-254>"),
    ("sanboot_aoe=e3.255", "AoE address e3.255 is not"),
    ("sanboot_aoe=e03.1", "AoE address e03.1 is not"),
    ("sanboot_aoe_timeout=0", "sanboot_aoe_timeout=0 is not 1-600 seconds"),
    ("sanboot_aoe_timeout=x", "sanboot_aoe_timeout=x is not"),
])
def test_script_bad_kernel_parameters_panic(tmp_path, cmdline, msg):
    rc, log, _out = Initramfs(tmp_path / "i", conf=CONF, cmdline=cmdline).run()
    assert rc == 1 and "PANIC: sanboot-aoe: " + msg in log and "modprobe" not in log


def test_script_off_and_missing_conf(tmp_path):
    rc, log, _out = Initramfs(tmp_path / "a", conf=CONF, cmdline="root=/dev/sda1 sanboot_aoe=off").run()
    assert rc == 0 and "WARN: sanboot-aoe: sanboot_aoe=off" in log and "modprobe" not in log
    rc, log, _out = Initramfs(tmp_path / "b", conf=None, cmdline="root=/dev/sda1").run()
    assert rc == 1 and "PANIC: sanboot-aoe: AoE address e. is not" in log


def test_script_without_ip_sets_iff_up_through_sysfs(tmp_path):
    fs = Initramfs(tmp_path / "i", conf=CONF, cmdline="sanboot_aoe_timeout=1", ip_tool=False)
    fs.run()
    assert fs.read("sys/class/net/eth0/flags") == "%d\n" % (0x1002 | 1)


def test_script_without_aoe_driver_panics(tmp_path):
    fs = Initramfs(tmp_path / "i", conf=CONF)
    fs.stub("modprobe", "exit 1\n")
    rc, log, _out = fs.run()
    assert rc == 1 and "PANIC: sanboot-aoe: cannot load the aoe driver (modprobe aoe failed)\n" in log
    assert "aoe-discover" not in log
