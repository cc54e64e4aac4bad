# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role san_target, entry point publish_image, through ansible-playbook on localhost against a
real tgtd (control port 87, portal 127.0.0.1:3297; this file's numbers).

The LUN's backing file gets the image in place and sparse; a second run changes nothing; a LUN
with a logged-in initiator (qemu-io) or named by the caller is refused without a write; forced,
the caller's stop tasks run and the LUN is written; check mode writes nothing; several images
are written side by side, and one that cannot be read fails the run before any version record.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ansible import ansible_env, command, run_json  # noqa: E402  pylint: disable=wrong-import-position
from _tgtd import Tgtd, qemu_io_session  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.integration

CONTROL, PORT = 87, 3297
PORTAL = "127.0.0.1:%d" % PORT
TARGET = "iqn.2024-01.lab.sanboot.publish:g1"
CLIENT = "iqn.2024-01.lab.sanboot.publish:client"
CHAP = dict(username="pubuser", password="publish-secret-12")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    """A tgtd exporting an 8 MiB backing file as LUN 1 of TARGET (ACL CLIENT, CHAP)."""
    base = tmp_path_factory.mktemp("publish_image")
    lun = base / "g1-root.img"
    with open(lun, "wb") as f:
        f.truncate(8 * MIB)
    daemon = Tgtd(CONTROL, PORTAL)
    request.addfinalizer(daemon.stop)
    daemon.start()
    for args in (["--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET],
                 ["--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", str(lun)],
                 ["--op", "bind", "--mode", "target", "--tid", "1", "-Q", CLIENT],
                 ["--op", "new", "--mode", "account", "--user", CHAP["username"], "--password", CHAP["password"]],
                 ["--op", "bind", "--mode", "account", "--tid", "1", "--user", CHAP["username"]]):
        daemon.tgtadm("--lld", "iscsi", *args)
    return dict(base=base, lun=lun, src=base / "g1.raw", inode=os.stat(lun).st_ino)


def make_image(lab, version):
    """A 4 MiB raw image: a version pattern at 0 and at 3 MiB, zeros between (a hole)."""
    data = bytearray(4 * MIB)
    mark = (("image %s " % version) * 64).encode()[:4096]
    data[:4096] = mark
    data[3 * MIB:3 * MIB + 4096] = mark
    lab["src"].write_bytes(bytes(data))
    return bytes(data)


def publish(lab, version, check=False, **extra):
    """Run the entry point; return (returncode, changed count, the failed task's result or None)."""
    args = dict(san_target_publish_images=[dict(name="g1", src=str(lab["src"]), version=version, path=str(lab["lun"]),
                                                size="8MiB", target=TARGET)],
                san_target_publish_control_port=CONTROL)
    args.update(extra)
    play = [{"name": "publish", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
             "tasks": [{"name": "publish_image", "ansible.builtin.include_role": {
                 "name": "sanboot.lab.san_target", "tasks_from": "publish_image"}, "vars": args}]}]
    argv = [command("ansible-playbook"), "-i", "localhost,", "/dev/stdin"] + (["--check"] if check else [])
    proc, out = run_json(argv, env=ansible_env(), input=json.dumps(play))
    assert out, proc.stdout[-4000:] + proc.stderr[-2000:]
    failed = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]
              if t["hosts"].get("localhost", {}).get("failed")]
    return proc.returncode, out["stats"]["localhost"]["changed"], (failed[0] if failed else None)


def lun_holds(lab, image):
    data = lab["lun"].read_bytes()
    return len(data) == 8 * MIB and data[:len(image)] == image and not data[len(image):].strip(b"\0")


def stamp(lab):
    return (lab["base"] / "g1-root.img.image-stamp").read_text()


@pytest.fixture
def session():
    """Hold an iSCSI session to TARGET open (qemu-io logged in with CHAP, reading stdin)."""
    with qemu_io_session(PORTAL, TARGET, CLIENT, CHAP) as proc:
        yield proc


def test_publish_sequence(lab, tmp_path):
    # 1. a LUN without a version record is written, in place and sparse; no copies left behind
    v1 = make_image(lab, "v1")
    rc, changed, failed = publish(lab, "v1")
    assert rc == 0 and failed is None and changed > 0
    assert lun_holds(lab, v1) and stamp(lab) == "v1" and os.stat(lab["lun"]).st_ino == lab["inode"]
    assert os.stat(lab["lun"]).st_blocks * 512 < 2 * MIB          # the hole stayed a hole
    assert not os.path.exists(str(lab["lun"]) + ".gz")
    assert not os.path.exists(str(lab["src"]) + ".localhost.gz")
    # 2. nothing changed, nothing written
    assert publish(lab, "v1")[:2] == (0, 0)
    # 3. check mode with a new version: reports the change, writes nothing
    v2 = make_image(lab, "v2")
    rc, changed, failed = publish(lab, "v2", check=True)
    assert rc == 0 and failed is None and changed > 0 and lun_holds(lab, v1) and stamp(lab) == "v1"
    # 4. in use by the caller's word: refused, nothing written
    rc, changed, failed = publish(lab, "v2", san_target_publish_in_use={"g1": "domain running on hv9"})
    assert rc != 0 and "in use" in failed["msg"] and "g1: domain running on hv9" in failed["msg"]
    assert "san_target_publish_force: true" in failed["msg"]
    assert lun_holds(lab, v1) and stamp(lab) == "v1"
    # 5. forced: the caller's stop tasks get the names, then the LUN is written
    record = tmp_path / "stopped.json"
    stop = tmp_path / "stop.yml"
    stop.write_text("- name: Record who would be stopped\n  ansible.builtin.copy:\n"
                    "    dest: %s\n    content: \"{{ san_target_publish_stopping | to_json }}\"\n    mode: \"0644\"\n" % record)
    rc, changed, failed = publish(lab, "v2", san_target_publish_in_use={"g1": "domain running on hv9"},
                                  san_target_publish_force=True, san_target_publish_stop_tasks=str(stop))
    assert rc == 0 and failed is None and json.loads(record.read_text()) == ["g1"]
    assert lun_holds(lab, v2) and stamp(lab) == "v2" and os.stat(lab["lun"]).st_ino == lab["inode"]


def test_logged_in_initiator_refused(lab, session):
    before = lab["lun"].read_bytes()
    version = stamp(lab) if os.path.exists(str(lab["lun"]) + ".image-stamp") else None
    make_image(lab, "v3")
    rc, dummy, failed = publish(lab, "v3", san_target_publish_force_hint="Say please.")
    assert rc != 0 and "in use" in failed["msg"] and failed["msg"].rstrip().endswith("Say please.")
    assert "initiator %s logged in to %s" % (CLIENT, TARGET) in failed["msg"]
    assert lab["lun"].read_bytes() == before
    assert (stamp(lab) if version else None) == version
    assert session.poll() is None


def test_bad_image_list_refused(lab):
    rc, dummy, failed = publish(lab, "v1", san_target_publish_images=[dict(
        name="g1", src=str(lab["src"]), version="v1", path=str(lab["lun"]), size="8M")])
    assert rc != 0 and "san_target_publish_images" in failed["msg"] and "IEC" in failed["msg"]


def test_images_side_by_side_and_a_failed_one(lab, tmp_path):
    """Several images are compressed and written at once (async jobs); one that cannot be read
    fails the run before any version record is written, and the next run writes them all."""
    images = []
    for name in ("a", "b", "c"):
        src = tmp_path / (name + ".raw")
        data = bytearray(4 * MIB)
        data[:4096] = (("side %s " % name) * 600).encode()[:4096]
        src.write_bytes(bytes(data))
        path = tmp_path / (name + "-root.img")
        path.write_bytes(b"")
        images.append(dict(name=name, src=str(src), version="v-" + name, path=str(path), size="8MiB", target=""))
    missing = dict(images[2], src=str(tmp_path / "missing.raw"))
    rc, dummy, failed = publish(lab, "unused", san_target_publish_images=images[:2] + [missing])
    assert rc != 0 and failed is not None
    assert not any(os.path.exists(i["path"] + ".image-stamp") for i in images)
    jobs = os.path.expanduser("~/.ansible_async")
    before = set(os.listdir(jobs)) if os.path.isdir(jobs) else set()
    rc, changed, failed = publish(lab, "unused", san_target_publish_images=images)
    assert rc == 0 and failed is None and changed > 0
    assert set(os.listdir(jobs)) - before == set()                 # the async job records were removed
    for i in images:
        data = open(i["path"], "rb").read()
        assert len(data) == 8 * MIB and data[:4096] == open(i["src"], "rb").read()[:4096]
        assert open(i["path"] + ".image-stamp").read() == i["version"]
        assert not os.path.exists(i["path"] + ".gz") and not os.path.exists(i["src"] + ".localhost.gz")
    assert publish(lab, "unused", san_target_publish_images=images)[:2] == (0, 0)
