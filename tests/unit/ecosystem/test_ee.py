# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml (ansible-builder v3) produces a build context: `ansible-builder create`.

Building the image itself needs a container registry for the base image (not reachable here)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_builder_create(tmp_path):
    tool = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    proc = subprocess.run([tool, "create", "-f", os.path.join(ROOT, "execution-environment.yml"), "-c", str(tmp_path),
                           "--output-filename", "Containerfile"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = tmp_path / "_build"
    for name in ("requirements.yml", "requirements.txt", "bindep.txt"):
        assert (context / name).is_file(), sorted(p.name for p in context.iterdir())
    containerfile = (tmp_path / "Containerfile").read_text()
    assert "ansible-galaxy" in containerfile and "ansible-core==2.18.19" in containerfile
    assert "community.libvirt" in (context / "requirements.yml").read_text()


def test_builder_introspects_the_collection():
    """Installed in an EE, the collection asks for requirements-ee.txt and bindep.txt
    (meta/execution-environment.yml), not the controller pins of requirements.txt."""
    import ansible_builder  # pylint: disable=import-outside-toplevel

    script = os.path.join(os.path.dirname(ansible_builder.__file__), "_target_scripts", "introspect.py")
    proc = subprocess.run([sys.executable, script, "introspect", os.path.join(ROOT, ".cache", "pytest-collections")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "netaddr==1.3.0  # from collection sanboot.lab" in proc.stdout
    assert "libvirt-devel [platform:rpm compile]  # from collection sanboot.lab" in proc.stdout
    assert "ansible==" not in proc.stdout and "ansible-core" not in proc.stdout
