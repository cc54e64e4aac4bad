# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aoe_export and aoe_probe against a real vblade, through Ansible, in network namespaces.

Layout (created here, removed at the end even on failure):

    netns sbaoe-t: sbaoe-tv (MTU 1500), sbaoe-tj (MTU 9000)    <- vblade runs here
    netns sbaoe-c: sbaoe-cv (02:5b:00:00:00:01) + macvlan sbaoe-cm (02:5b:00:00:00:02) on it,
                   sbaoe-cj (MTU 9000)                          <- aoe_probe runs here

AoE needs no IP addresses.  Shelf 41 belongs to this file.  Only vblade pids that the module
reported are killed at the end (by pid).
"""

import hashlib
import json
import os
import signal
import subprocess

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order
from _images import cached_lab_image  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE = os.path.join(ROOT, ".venv", "bin", "ansible")
NS_T, NS_C = "sbaoe-t", "sbaoe-c"
MAC_CV, MAC_CM = "02:5b:00:00:00:01", "02:5b:00:00:00:02"
SHELF = 41
SIZE = 4 * 1024 * 1024


def sh(*argv):
    subprocess.run(argv, check=True)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (IOError, OSError):
        return False


class Lab(object):
    def __init__(self, tmp):
        self.tmp = tmp
        self.pids = set()

    def run(self, ns, module, args, check=False):
        """Run ``sanboot.lab.<module>`` with ``args`` via ``ansible localhost`` inside ``ns``."""
        env = ansible_env()
        argv = ["ip", "netns", "exec", ns, ANSIBLE, "localhost", "-i", "localhost,", "-c", "local",
                "-e", "ansible_python_interpreter=/usr/bin/python3", "--diff",
                "-m", "sanboot.lab." + module, "-a", json.dumps(args)] + (["--check"] if check else [])
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
        try:
            result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible failed: rc=%s\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
        if result.get("pid"):
            self.pids.add(result["pid"])
        return result

    def export(self, slot, path, check=False, **kw):
        args = dict(shelf=SHELF, slot=slot, interface="sbaoe-tv", path=path, supervisor="process")
        args.update(kw)
        return self.run(NS_T, "aoe_export", args, check=check)

    def probe(self, slot, interface="sbaoe-cv", **kw):
        args = dict(shelf=SHELF, slot=slot, interface=interface, timeout=0.5, retries=2)
        args.update(kw)
        return self.run(NS_C, "aoe_probe", args)

    def disk(self, name, size=SIZE):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    assert os.geteuid() == 0, "the AoE integration tests need root (network namespaces, raw sockets)"
    lab = Lab(str(tmp_path_factory.mktemp("aoe")))
    lab.disk("e1.img")                                       # e41.1's backing file, shared by several tests
    try:
        sh("ip", "netns", "add", NS_T)
        sh("ip", "netns", "add", NS_C)
        sh("ip", "link", "add", "sbaoe-tv", "netns", NS_T, "type", "veth", "peer", "name", "sbaoe-cv",
           "netns", NS_C, "address", MAC_CV)
        sh("ip", "link", "add", "sbaoe-tj", "netns", NS_T, "mtu", "9000", "type", "veth", "peer", "name",
           "sbaoe-cj", "netns", NS_C, "mtu", "9000")
        sh("ip", "-n", NS_C, "link", "add", "sbaoe-cm", "link", "sbaoe-cv", "address", MAC_CM,
           "type", "macvlan", "mode", "bridge")
        for ns, link in ((NS_T, "sbaoe-tv"), (NS_T, "sbaoe-tj"), (NS_C, "sbaoe-cv"), (NS_C, "sbaoe-cj"),
                         (NS_C, "sbaoe-cm")):
            sh("ip", "-n", ns, "link", "set", link, "up")
        yield lab
    finally:
        for pid in lab.pids:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"vblade" in f.read().split(b"\0")[0]:
                        os.kill(pid, signal.SIGKILL)
            except (IOError, OSError):
                pass
        for ns in (NS_T, NS_C):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)
        for name in os.listdir("/run/sanboot-vblade") if os.path.isdir("/run/sanboot-vblade") else []:
            if name.startswith("e%d." % SHELF):
                os.unlink(os.path.join("/run/sanboot-vblade", name))


def test_export_is_found_with_its_size_and_is_idempotent(lab):
    path = lab.tmp + "/e1.img"
    first = lab.export(1, path)
    assert first["changed"] and first["device"] == "e41.1" and first["size_bytes"] == SIZE
    assert pid_alive(first["pid"]) and first["diff"]["before"] == {"state": "absent"}
    with open("/proc/%d/cmdline" % first["pid"], "rb") as f:
        assert f.read().split(b"\0")[1:5] == [b"41", b"1", b"sbaoe-tv", path.encode()]

    again = lab.export(1, path)
    assert not again["changed"] and again["changes"] == [] and again["pid"] == first["pid"]

    found = lab.probe(1)
    assert found["found"] and not found["changed"]
    assert found["size_bytes"] == SIZE and found["sectors"] == SIZE // 512
    assert found["model"] == "Coraid EtherDrive vblade" and found["max_sectors"] == 2
    assert lab.probe(7)["found"] is False                    # nobody serves e41.7


def test_check_mode_changes_nothing(lab):
    path = lab.disk("e2.img")
    planned = lab.export(2, path, check=True)
    assert planned["changed"] and planned["pid"] is None
    assert lab.probe(2)["found"] is False                    # nothing was started
    running = lab.export(1, lab.tmp + "/e1.img")
    planned = lab.export(1, lab.tmp + "/e1.img", check=True, readonly=True)
    assert planned["changed"] and planned["diff"]["after"]["readonly"] is True
    assert pid_alive(running["pid"])
    assert lab.export(1, lab.tmp + "/e1.img")["pid"] == running["pid"]   # same process, not restarted


def test_sector_written_to_file_reads_back_over_aoe(lab):
    lab.export(1, lab.tmp + "/e1.img")
    pattern = os.urandom(1024)
    with open(lab.tmp + "/e1.img", "r+b") as f:
        f.seek(100 * 512)
        f.write(pattern)
    got = lab.probe(1, read_lba=100, read_count=2)
    assert got["data_hex"] == pattern.hex() and got["data_sha256"] == hashlib.sha256(pattern).hexdigest()


def test_write_over_aoe_lands_in_the_file(lab):
    lab.export(1, lab.tmp + "/e1.img")
    data = os.urandom(3 * 512 + 10)                          # padded to 4 sectors with zeros
    got = lab.probe(1, write_lba=200, write_data=data.hex(), read_lba=200, read_count=4)
    assert got["changed"] and got["written_bytes"] == 4 * 512
    expected = data + b"\0" * (4 * 512 - len(data))
    assert got["data_hex"] == expected.hex()
    with open(lab.tmp + "/e1.img", "rb") as f:
        f.seek(200 * 512)
        assert f.read(4 * 512) == expected


def test_readonly_export_refuses_writes(lab):
    path = lab.disk("ro.img")
    assert lab.export(3, path, readonly=True)["changed"]
    got = lab.probe(3, write_lba=0, write_data="ff" * 512)
    assert got.get("failed") and "ABRT" in got["msg"]
    with open(path, "rb") as f:
        assert f.read(512) == b"\0" * 512
    assert lab.probe(3, read_lba=0)["data_sha256"] == hashlib.sha256(b"\0" * 512).hexdigest()


def test_allowed_macs_exclude_other_initiators(lab):
    path = lab.disk("masked.img")
    assert lab.export(4, path, allowed_macs=[MAC_CV.upper()])["changed"]
    assert lab.probe(4, interface="sbaoe-cv")["found"] is True
    assert lab.probe(4, interface="sbaoe-cm")["found"] is False


def test_second_read_write_export_of_a_file_is_refused(lab):
    lab.export(1, lab.tmp + "/e1.img")
    refused = lab.export(5, lab.tmp + "/e1.img")
    assert refused.get("failed") and "already exported read-write" in refused["msg"]
    assert lab.probe(5)["found"] is False
    allowed = lab.export(5, lab.tmp + "/e1.img", readonly=True)
    assert allowed["changed"] and not allowed.get("failed")
    assert lab.export(5, lab.tmp + "/e1.img", state="absent")["changed"]


def test_bad_input_is_a_clear_error(lab):
    path = lab.disk("bad.img")
    for kw, words in ((dict(shelf=65535), "shelf=65535 is out of range"),
                      (dict(slot=255), "slot=255 is out of range"),
                      (dict(path=lab.tmp + "/missing.img"), "does not exist"),
                      (dict(interface="sbaoe-nope"), "sbaoe-nope does not exist")):
        args = dict(dict(shelf=SHELF, slot=6, interface="sbaoe-tv", path=path, supervisor="process"), **kw)
        got = lab.run(NS_T, "aoe_export", args)
        assert got.get("failed") and words in got["msg"], got
    assert lab.probe(6)["found"] is False


def test_state_absent_stops_the_process(lab):
    path = lab.disk("gone.img")
    pid = lab.export(8, path)["pid"]
    assert lab.probe(8)["found"]
    stopped = lab.export(8, path, state="absent")
    assert stopped["changed"] and stopped["pid"] is None and "pid %d" % pid in stopped["changes"][0]
    assert not pid_alive(pid)
    assert lab.probe(8)["found"] is False
    assert not lab.export(8, path, state="absent")["changed"]


def test_jumbo_frames_carry_17_sectors(lab):
    path = lab.disk("jumbo.img")
    data = os.urandom(64 * 512)
    with open(path, "r+b") as f:
        f.write(data)
    assert lab.export(9, path, interface="sbaoe-tj")["changed"]
    got = lab.probe(9, interface="sbaoe-cj", read_lba=0, read_count=64)
    assert got["mtu"] == 9000 and got["max_sectors"] == 17
    assert got["data_sha256"] == hashlib.sha256(data).hexdigest()


def test_buffers_advertised_and_a_change_restarts_the_export(lab):
    path = lab.disk("bufs.img")
    first = lab.export(10, path, buffers=64)
    assert first["changed"] and first["diff"]["after"]["buffers"] == 64
    with open("/proc/%d/cmdline" % first["pid"], "rb") as f:
        assert f.read().split(b"\0")[1:3] == [b"-b", b"64"]
    assert lab.probe(10)["buffer_count"] == 64
    again = lab.export(10, path, buffers=64)
    assert not again["changed"] and again["pid"] == first["pid"]
    changed = lab.export(10, path, buffers=32)
    assert changed["changed"] and changed["pid"] != first["pid"] and not pid_alive(first["pid"])
    assert [c.split(":")[0] for c in changed["changes"]] == ["stop vblade pid %d" % first["pid"],
                                                             "start vblade"]
    assert lab.probe(10)["buffer_count"] == 32
    default = lab.export(10, path)                            # null: vblade's own default
    assert default["changed"] and lab.probe(10)["buffer_count"] == 16
    refused = lab.export(10, path, buffers=0)
    assert refused.get("failed") and "1-65535" in refused["msg"]
    assert lab.export(10, path, state="absent")["changed"]

# ---- supervisor=systemd, in an LXC container with systemd (the lab image) --------------------


class Container(object):
    NAME = "sbaoe-sd"

    def __init__(self, lxcpath):
        self.lxcpath = lxcpath

    def attach(self, *argv):
        return subprocess.run(["lxc-attach", "-P", self.lxcpath, "-n", self.NAME, "--"] + list(argv),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False)

    def module(self, name, **args):
        """Run sanboot.lab.<name> inside the container (work tree and ansible bind-mounted)."""
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args})
        proc = self.attach("env", "PYTHONPATH=/opt/ansible:" + ROOT + "/.cache/pytest-collections", "sh", "-c",
                           'printf "%s" "$1" >/tmp/args.json && exec python3 -m '
                           'ansible_collections.sanboot.lab.plugins.modules.' + name + ' /tmp/args.json',
                           "sh", payload)
        try:
            return json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("module %s: rc=%s\n%s\n%s" % (name, proc.returncode, proc.stdout, proc.stderr))


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    rootfs = cached_lab_image()      # the lab's image: systemd and vblade (built when missing)
    base = str(tmp_path_factory.mktemp("lxc"))
    os.makedirs(os.path.join(base, Container.NAME, "delta"))
    import ansible
    with open(os.path.join(base, Container.NAME, "config"), "w") as f:
        f.write("\n".join([
            "lxc.uts.name = %s" % Container.NAME,
            "lxc.include = /usr/share/lxc/config/common.conf",
            "lxc.apparmor.profile = unconfined",
            "lxc.rootfs.path = overlay:%s:%s" % (rootfs, os.path.join(base, Container.NAME, "delta")),
            "lxc.net.0.type = veth", "lxc.net.0.veth.pair = sbaoe-sdh", "lxc.net.0.name = eth0",
            "lxc.net.0.flags = up", "lxc.net.0.hwaddr = 02:5b:00:00:01:01",
            "lxc.mount.entry = %s %s none bind,ro,create=dir 0 0" % (ROOT, ROOT.lstrip("/")),
            "lxc.mount.entry = %s opt/ansible/ansible none bind,ro,create=dir 0 0"
            % os.path.dirname(ansible.__file__),
            "lxc.log.file = %s" % os.path.join(base, "lxc.log"), ""]))
    ct = Container(base)
    try:
        sh("lxc-start", "-P", base, "-n", Container.NAME)
        sh("ip", "link", "set", "sbaoe-sdh", "up")
        for _i in range(100):                       # systemd up: is-system-running answers
            if ct.attach("systemctl", "is-system-running").stdout.strip() in ("running", "degraded"):
                break
            subprocess.run(["sleep", "0.1"], check=True)
        yield ct
    finally:
        subprocess.run(["lxc-stop", "-P", base, "-n", Container.NAME, "-k"], stderr=subprocess.DEVNULL,
                       check=False)


def main_pid(ct, unit):
    return int(ct.attach("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip() or 0)


def test_systemd_supervisor_in_a_container(container):
    from ansible_collections.sanboot.lab.plugins.module_utils.aoe import _protocol

    ct, unit = container, "sanboot-vblade@e41.40.service"
    assert ct.attach("truncate", "-s", "8M", "/srv/e41.40.img").returncode == 0
    args = dict(shelf=SHELF, slot=40, interface="eth0", path="/srv/e41.40.img", _ansible_diff=True)
    first = ct.module("aoe_export", **args)
    assert first["changed"] and first["supervisor"] == "systemd" and first["pid"] == main_pid(ct, unit)
    assert first["changes"][:2] == ["write /etc/systemd/system/sanboot-vblade@.service", "systemctl daemon-reload"]
    assert ct.attach("systemctl", "is-enabled", unit).stdout.strip() == "enabled"
    with _protocol.AoEClient("sbaoe-sdh", timeout=0.5, retries=3) as client:
        found = client.discover(SHELF, 40)
        assert len(found) == 1 and client.identify(found[0])["size_bytes"] == 8 * 1024 * 1024

    again = ct.module("aoe_export", **args)
    assert not again["changed"] and again["pid"] == first["pid"]

    assert ct.attach("kill", "-9", str(first["pid"])).returncode == 0      # Restart=on-failure
    for _i in range(200):
        if main_pid(ct, unit) not in (0, first["pid"]):
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert main_pid(ct, unit) not in (0, first["pid"])

    readonly = ct.module("aoe_export", readonly=True, **args)
    assert readonly["changed"] and readonly["changes"][-1] == "restart " + unit
    assert "systemctl daemon-reload" not in readonly["changes"]
    assert ct.attach("cat", "/proc/%d/cmdline" % readonly["pid"]).stdout.split("\0")[1] == "-r"  # pid in the container

    gone = ct.module("aoe_export", shelf=SHELF, slot=40, interface="eth0", state="absent")
    assert gone["changed"] and gone["pid"] is None
    assert ct.attach("systemctl", "is-enabled", unit).stdout.strip() == "disabled"
    assert ct.attach("pgrep", "-x", "vblade").returncode == 1                 # no vblade left
    assert not ct.module("aoe_export", shelf=SHELF, slot=40, interface="eth0", state="absent")["changed"]
