# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
name: migration_report
short_description: Judge live migrations from ping -D output and a guest's sequence file
version_added: 0.1.0
description:
  - Parses, per migration, the output of C(ping -D) run during it (lost pings from ping's own
    C(transmitted)/C(received) count, icmp_seq numbers never answered, the longest gap between
    two replies in milliseconds) and joins it with the result of M(sanboot.lab.live_migration).
  - Checks the guest's sequence file (lines C(N EPOCH), N = 1, 2, 3... appended and fsync'd by a
    writer in the guest) for missing or repeated numbers, and that the copy read from the LUN's
    backing store is identical.
  - Per migration, optionally, the guest's memory check (the C(verify) answer of
    C(playbooks/files/sanboot-memcheck.py), which keeps a buffer filled with a known pattern
    and compares every page after the move) and the guest's kernel log after the move (an
    oops, general protection fault, bad page, list corruption, panic, soft or hard lockup or
    RCU stall fails the move; a kernel WARNING is listed only).
  - Returns the rows, a plain-text table (direction, total, downtime, transferred, lost pings,
    longest gap, announced, memory, kernel log), and C(ok).
author:
  - sanboot.lab developers (!UNKNOWN)
options:
  _input:
    description:
      - List of migrations, each a dict with C(direction) (str), C(result) (the registered
        result of M(sanboot.lab.live_migration)) and C(ping) (the complete C(ping -D) output),
        and optionally C(memory) (dict, the memory check's C(verify) answer) and C(kernel_log)
        (str, the guest's C(dmesg) after the move).
    type: list
    elements: dict
    required: true
  sequence:
    description: The sequence file as read in the guest (omit to skip the check).
    type: str
  sequence_on_lun:
    description: The same file read from the LUN's backing store (omit to skip the comparison).
    type: str
"""

EXAMPLES = r"""
- name: Print the table
  ansible.builtin.debug:
    msg: "{{ (moves | sanboot.lab.migration_report(sequence=seq_text)).table }}"
"""

RETURN = r"""
_value:
  description:
    - C(rows) (list of dicts - direction, total_time_ms, downtime_ms, transferred_bytes,
      transferred, lost_pings, missing_icmp_seq, pings, longest_gap_ms, memory, memory_ok,
      memory_bad_pages, kernel, kernel_problems, kernel_ok), C(table) (str), C(guest_ok) (bool -
      no memory mismatch and no oops, panic or lockup after any move),
      C(lost_pings) (int, all migrations), C(longest_gap_ms) (int), C(sequence) (dict - count,
      first, last, missing, repeated, longest_write_gap_ms, ok), C(lun_matches) (bool or None),
      C(ok) (bool - no ping lost, no sequence gap, the LUN copy matches, C(guest_ok)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._report import (
    ReportError, report,
)


def migration_report(moves, sequence=None, sequence_on_lun=None):
    """``moves | sanboot.lab.migration_report(sequence=..., sequence_on_lun=...)``."""
    try:
        return report(moves, sequence, sequence_on_lun)
    except (ReportError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("sanboot.lab.migration_report: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"migration_report": migration_report}
