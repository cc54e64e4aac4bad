# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/lab_rerun.py: a profiled ansible-playbook run (profile_tasks) read back into plays and tasks."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.lab_rerun import parse  # noqa: E402  pylint: disable=wrong-import-position

LOG = """
PLAY [Build the lab] ***********************************************************

TASK [a] ***********************************************************************
Wednesday 02 December 2026  14:38:00 +0000 (0:00:00.020)       0:00:01.000 ****
ok: [localhost]

TASK [b] ***********************************************************************
Wednesday 02 December 2026  14:38:10 +0000 (0:00:09.000)       0:00:10.000 ****
ok: [localhost]

PLAY [Move] ********************************************************************

TASK [c] ***********************************************************************
Wednesday 02 December 2026  14:38:20 +0000 (0:00:10.000)       0:00:20.500 ****
ok: [guest1]

PLAY RECAP *********************************************************************
guest1                     : ok=1    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
localhost                  : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0

Wednesday 02 December 2026  14:38:25 +0000 (0:00:04.500)       0:00:25.000 ****
===============================================================================
c ----------------------------------------------------------------------- 4.50s
b ---------------------------------------------------------------------- 10.50s
"""


def test_plays_tasks_and_recap():
    plays, tasks, changed, failed = parse(LOG)
    assert plays == [("Build the lab", 19.5), ("Move", 4.5)]
    assert tasks == [("c", 4.5), ("b", 10.5)]
    assert (changed, failed) == (1, 0)
