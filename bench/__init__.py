# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of sanboot.lab (``make bench`` / ``python -m bench [NAME]``); see docs/benchmarks.md."""

from __future__ import annotations

BENCHMARKS = ("tgt_throughput", "iscsi_target_scale", "aoe_throughput", "datapath_wire", "migration_announce",
              "migration_stress", "migration_time", "netboot_time", "xen_times", "multipath_failover", "lab_rerun",
              "make_test")
