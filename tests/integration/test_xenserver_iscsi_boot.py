# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/xenserver_iscsi_boot against a directory tree, with a FAKE dracut.

XenServer/XCP-ng cannot run on this machine, so the role is applied (local connection) to a
directory tree given by ``xenserver_iscsi_boot_root``, seeded with real sample files
(tests/integration/fixtures/xenserver/), and ``dracut`` is a FAKE: a shell script placed first on
PATH that only appends its argv to a log file.  The tests check the rendered files byte for byte,
the command the handler would run on a real host, and that the handler runs only when a file
changed.  Nothing here boots XenServer or builds a real initrd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "tests", "integration", "fixtures", "xenserver")
KVER = "4.19.0+1"

FAKE_DRACUT = """#!/bin/sh
# FAKE dracut for tests: records its arguments (one per line, then a separator), builds nothing.
for a in "$@"; do printf '%s\\n' "$a"; done >> "$FAKE_DRACUT_LOG"
echo --- >> "$FAKE_DRACUT_LOG"
"""


@pytest.fixture
def tree(tmp_path):
    """A XenServer-like tree, a fake-bin dir with the FAKE dracut, and its log path."""
    root = tmp_path / "xs"
    (root / "etc/iscsi").mkdir(parents=True)
    (root / "etc/dracut.conf.d").mkdir(parents=True)
    (root / "boot").mkdir()
    (root / "srv/tftp/pxelinux.cfg").mkdir(parents=True)
    for name in ("iscsid.conf", "initiatorname.iscsi"):
        shutil.copy(os.path.join(SAMPLES, name), str(root / "etc/iscsi" / name))
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "dracut").write_text(FAKE_DRACUT)
    (fake / "dracut").chmod(0o755)
    return root, fake, tmp_path / "dracut.log"


def run_role(tree, check=False, **extra):
    root, fake, log = tree
    role_vars = dict(xenserver_iscsi_boot_root=str(root), xenserver_iscsi_boot_hostname="XS1",
                     xenserver_iscsi_boot_kernel_version=KVER,
                     xenserver_iscsi_boot_network_device="eth1",
                     xenserver_iscsi_boot_pxe_file="/srv/tftp/pxelinux.cfg/default")
    role_vars.update(extra)
    play = [{"hosts": "xs1", "gather_facts": False,
             "roles": [{"role": "sanboot.lab.xenserver_iscsi_boot", "vars": role_vars}]}]
    pb = root.parent / "play.yml"
    pb.write_text(json.dumps(play))
    inv = root.parent / "inventory.json"
    inv.write_text(json.dumps({"all": {"hosts": {"xs1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    env = ansible_env(path_prefix=[str(fake)], FAKE_DRACUT_LOG=str(log))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv),
            str(pb)] + (["--check"] if check else [])
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)["stats"]["xs1"]


def dracut_calls(tree):
    log = tree[2]
    if not log.exists():
        return []
    return [c.strip("\n").split("\n") for c in log.read_text().split("---\n") if c.strip()]


def test_renders_files_and_runs_dracut_once(tree):
    root = tree[0]
    stats = run_role(tree)
    assert stats["changed"] > 0 and stats["failures"] == 0

    assert (root / "etc/iscsi/initiatorname.iscsi").read_text() == \
        "InitiatorName=iqn.2024-01.lab.sanboot:xs1-boot\n"

    with open(os.path.join(SAMPLES, "iscsid.conf")) as f:
        original = f.read().splitlines(True)
    changed = (root / "etc/iscsi/iscsid.conf").read_text().splitlines(True)
    assert len(changed) == len(original)
    diff = [(a, b) for a, b in zip(original, changed) if a != b]
    assert diff == [("node.startup = manual\n", "node.startup = automatic\n"),
                    ("node.session.initial_login_retry_max = 8\n",
                     "node.session.initial_login_retry_max = 60\n")]

    assert 'add_drivers+=" iscsi_ibft scsi_transport_iscsi dm-multipath "' in \
        (root / "etc/dracut.conf.d/sanboot-iscsi-boot.conf").read_text()
    mp = (root / "etc/multipath.conf").read_text()
    assert "defaults {\n\tuser_friendly_names no\n\tfind_multipaths yes\n" in mp
    pxe = (root / "srv/tftp/pxelinux.cfg/default").read_text()
    assert ("  APPEND xenserver/xen.gz dom0_max_vcpus=2 dom0_mem=2048M,max:2048M com1=115200,8n1 "
            "console=com1,vga --- xenserver/vmlinuz console=hvc0 console=tty0 --use_ibft --mpath "
            "--network_device=eth1 --- xenserver/install.img\n") in pxe

    assert dracut_calls(tree) == [["--force", "--add-drivers",
                                   "iscsi_ibft scsi_transport_iscsi dm-multipath",
                                   "%s/boot/initrd-%s.img" % (root, KVER), KVER]]

    stats = run_role(tree)
    assert stats["changed"] == 0
    assert len(dracut_calls(tree)) == 1, "the second run rebuilt the initrd"


def test_pxe_change_does_not_rebuild_but_multipath_change_does(tree):
    run_role(tree)
    run_role(tree, xenserver_iscsi_boot_answerfile="http://198.51.100.1/answer.xml")
    pxe = (tree[0] / "srv/tftp/pxelinux.cfg/default").read_text()
    assert "answerfile=http://198.51.100.1/answer.xml install --use_ibft" in pxe
    assert len(dracut_calls(tree)) == 1
    run_role(tree, xenserver_iscsi_boot_multipath_devices=[
        {"vendor": "IET", "product": "VIRTUAL-DISK", "path_grouping_policy": "multibus"}])
    mp = (tree[0] / "etc/multipath.conf").read_text()
    assert '\tdevice {\n\t\tvendor "IET"\n\t\tproduct "VIRTUAL-DISK"\n' \
           '\t\tpath_grouping_policy multibus\n\t}\n' in mp
    assert len(dracut_calls(tree)) == 2


def test_check_mode_writes_nothing(tree):
    root = tree[0]
    before = (root / "etc/iscsi/iscsid.conf").read_text()
    stats = run_role(tree, check=True)
    assert stats["changed"] > 0
    assert (root / "etc/iscsi/iscsid.conf").read_text() == before
    assert not (root / "etc/multipath.conf").exists()
    assert dracut_calls(tree) == []


def test_invalid_initiator_name_is_refused(tree):
    root = tree[0]
    with pytest.raises(AssertionError, match="is not a valid IQN|sanboot.lab.iqn"):
        run_role(tree, xenserver_iscsi_boot_initiator_name="iqn.2008.06.biz.frode:xs1")
    assert (root / "etc/iscsi/initiatorname.iscsi").read_text().startswith(
        "InitiatorName=iqn.2024-03.com.example")
