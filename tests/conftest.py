"""Make ``ansible_collections.sanboot.lab`` importable from the work tree (no install needed)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TREE = os.path.join(ROOT, ".cache", "pytest-collections")
_LINK = os.path.join(_TREE, "ansible_collections", "sanboot", "lab")

if not os.path.islink(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(ROOT, _LINK)
if _TREE not in sys.path:
    sys.path.insert(0, _TREE)
