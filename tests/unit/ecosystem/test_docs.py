# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docs site's linter: every module, plugin and role page renders, and every O(), M(), seealso
reference to this collection resolves (``antsibull-docs lint-collection-docs --plugin-docs``).

The full Sphinx site is built by ``make docs`` (about a minute); this test runs the linter only.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TREE = os.path.join(ROOT, ".cache", "pytest-collections")
BIN = os.path.dirname(sys.executable)


def test_lint_collection_docs():
    tool = os.path.join(BIN, "antsibull-docs")
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_COLLECTIONS_PATH=TREE,
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), LC_ALL="C.UTF-8")
    proc = subprocess.run(
        [tool, "lint-collection-docs", "--plugin-docs", "--validate-collection-refs", "self",
         os.path.join(TREE, "ansible_collections", "sanboot", "lab")],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
