# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""initramfs_iscsi with multipath=true: validation, rendering, planning (no processes)."""

import os
import subprocess

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _initramfs as ir
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _multipath_root as mp
from ansible_collections.sanboot.lab.plugins.module_utils.boot._render import render_iscsi_conf

from test__initramfs import make_root, params  # noqa: E402  pylint: disable=import-error

WWID = "360000000000000000e00000000010001"
PORTALS = ["198.51.100.1", "198.51.100.129"]


def mparams(**kw):
    p = params(portals=PORTALS, multipath=True, multipath_alias="sanroot", multipath_wwid=WWID,
               multipath_interfaces=[{"interface": "eth1", "address": "198.51.100.198/25"}],
               multipath_wait=30, boot_interface="eth0", ip={"address": "198.51.100.70/25"})
    p.update(kw)
    return p


def mreq(**kw):
    return ir.normalise(mparams(**kw))[0]


def make_mp_root(tmp_path):
    root = make_root(tmp_path)
    for rel in ("usr/share/initramfs-tools/scripts/local-top/multipath", "usr/sbin/multipath",
                "lib/systemd/systemd-networkd"):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write("#!/bin/sh\n")
    return root


@pytest.mark.parametrize("kw,msg", [
    (dict(multipath=False), "multipath_wwid: only with multipath=true"),
    (dict(firmware=True, target=None, portals=[], root_device="LABEL=r"), "not with firmware"),
    (dict(portals=["198.51.100.1"]), "two or more portals"),
    (dict(multipath_alias="../x"), "is not a map name"),
    (dict(multipath_wwid="36 00"), "is not a WWID"),
    (dict(multipath_wait=0), "1-600"),
    (dict(multipath_interfaces=[{"interface": "eth1"}]), "keys interface and address"),
    (dict(multipath_interfaces=[{"interface": "eth0", "address": "198.51.100.198/25"}]),
     "other than boot_interface"),
    (dict(multipath_interfaces=[{"interface": "eth1", "address": "198.51.100.198"}]), "needs a prefix"),
    (dict(multipath_interfaces=[{"interface": "eth1", "address": "fd00::1/64"}]), "IPv4"),
    (dict(multipath_wwid=None), "root_device: required with multipath=true"),
])
def test_bad_input(kw, msg):
    with pytest.raises(ir.RequestError, match=msg):
        ir.normalise(mparams(**kw))


def test_root_is_the_alias_by_default_and_label_when_given():
    assert "root=/dev/mapper/sanroot" in mreq()["root_param"]
    assert mreq(multipath_wwid=None, root_device="LABEL=guestroot")["root_param"] == "root=LABEL=guestroot"


def test_stock_script_gets_only_the_first_portal():
    assert "ISCSI_TARGET_IP=198.51.100.1\n" in render_iscsi_conf(mreq())
    plain = mreq(multipath=False, multipath_wwid=None, multipath_interfaces=[], root_device="LABEL=r")
    assert "ISCSI_TARGET_IP='198.51.100.1 198.51.100.129'\n" in render_iscsi_conf(plain)


def test_conf_with_wwid_alias_strict_queue_blacklist():
    conf = mp.render_conf(mreq())
    for line in ('\twwid "%s"' % WWID, '\talias "sanroot"', "find_multipaths strict", "no_path_retry queue",
                 "user_friendly_names yes", "path_grouping_policy multibus", "fast_io_fail_tmo 5",
                 'devnode "^vd[a-z]+"'):
        assert line in conf, line
    assert conf.index("multipaths {") < conf.index("no_path_retry queue")
    # every setting has its reason above it
    assert conf.count("{") == conf.count("}")


def test_conf_without_wwid_queues_in_overrides():
    conf = mp.render_conf(mreq(multipath_wwid=None, root_device="LABEL=guestroot"))
    assert "find_multipaths yes" in conf and "overrides {" in conf and "multipaths {" not in conf


def test_wwids_keeps_other_lines_and_is_idempotent():
    first = mp.render_wwids(None, WWID)
    assert first.endswith("/%s/\n" % WWID) and first.startswith("# Multipath wwids, Version : 1.0")
    assert mp.render_wwids(first, WWID) == first
    other = first + "/36001405abc/\n"
    assert mp.render_wwids(other, WWID) == other
    assert mp.render_wwids("/x/", WWID) == "/x/\n/%s/\n" % WWID


def test_paths_script_is_valid_shell_with_interfaces_and_portals(tmp_path):
    text = mp.render_paths_script(mreq())
    assert 'PREREQ="iscsi"' in text and "PORTALS='198.51.100.1 198.51.100.129'" in text
    assert "configure eth1 198.51.100.198 255.255.255.128\n" in text
    assert '${up%.*}' in text and "WAIT=30" in text
    script = tmp_path / "s"
    script.write_text(text)
    subprocess.run(["sh", "-n", str(script)], check=True)
    out = subprocess.run(["sh", str(script), "prereqs"], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "iscsi"


def test_check_root_needs_multipath_tools_boot(tmp_path):
    root = make_root(tmp_path)
    assert ir.check_root(root) == []
    errors = ir.check_root(root, multipath=True)
    assert any("multipath-tools-boot is not installed" in e for e in errors), errors


def test_plan_apply_idempotent_and_removal(tmp_path):
    root = make_mp_root(tmp_path)
    plan, warnings = ir.plan_files(mreq(), root)
    changed = {c.rel for c in plan if c.changed}
    assert {mp.MULTIPATH_CONF, mp.PATHS_SCRIPT, mp.WWIDS_FILE, ir.NETWORKD_FILE % "eth0",
            ir.NETWORKD_FILE % "eth1", ir.WAIT_ONLINE_FILE} <= changed, changed
    for c in plan:
        if c.changed:
            ir.write_file(root, c)
    assert not [c.rel for c in ir.plan_files(mreq(), root)[0] if c.changed]
    assert oct(os.stat(os.path.join(root, mp.PATHS_SCRIPT)).st_mode & 0o777) == "0o755"
    # multipath off again: our multipath.conf and script go, the wwids file (multipathd's) stays
    off = ir.normalise(params(portals=PORTALS, root_device="LABEL=r"))[0]
    removed = {c.rel for c in ir.plan_files(off, root)[0] if c.changed and c.after is None}
    assert removed == {mp.MULTIPATH_CONF, mp.PATHS_SCRIPT}


def test_foreign_multipath_conf_is_left_alone(tmp_path):
    root = make_mp_root(tmp_path)
    with open(os.path.join(root, mp.MULTIPATH_CONF), "w") as f:
        f.write("defaults {\n}\n")
    off = ir.normalise(params(portals=PORTALS, root_device="LABEL=r"))[0]
    assert mp.MULTIPATH_CONF not in {c.rel for c in ir.plan_files(off, root)[0] if c.changed}
