# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a live migration cost the guest's users (private, pure): parse ``ping -D`` output and
the guest's fsync'd sequence file, and render the table of playbooks/migrate.yml.

* ``ping -D`` (iputils): ``[EPOCH.USEC] 64 bytes from ADDR: icmp_seq=N ttl=64 time=T ms``
  per reply and ``N packets transmitted, M received, ...`` at the end.  Lost pings are
  ``transmitted - received`` (ping's own count) or the number of icmp_seq numbers up to the
  last one sent that never got a printed reply, whichever is larger (both are listed); the longest gap is the largest distance between two consecutive replies
  (milliseconds, from the -D timestamps).
* sequence file: one ``N EPOCH`` line per append (N = 1, 2, 3 ...); a gap or a repeat in N means
  a write was lost; the longest distance between two writes shows the guest's pause.
"""

from __future__ import annotations

import re

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError

# a reply only: "From ADDR icmp_seq=N Destination Host Unreachable" (no ARP answer during a long
# outage, such as a cold move) carries a sequence number too, but nothing came back
_REPLY = re.compile(r"^\[(?P<ts>\d+\.\d+)\] \d+ bytes from .*\bicmp_seq=(?P<seq>\d+)\b")
_SUMMARY = re.compile(r"^(?P<tx>\d+) packets transmitted, (?P<rx>\d+) (?:packets )?received")


class ReportError(SanbootError):
    """Input that is not what ``ping -D`` or the sequence writer produce."""


def ping_stats(text):
    """``{transmitted, received, lost, missing, duplicates, longest_gap_ms, replies}``."""
    stamps, seqs, summary = [], [], None
    for line in (text or "").splitlines():
        m = _REPLY.match(line.strip())
        if m:
            stamps.append(float(m.group("ts")))
            seqs.append(int(m.group("seq")))
            continue
        m = _SUMMARY.match(line.strip())
        if m:
            summary = (int(m.group("tx")), int(m.group("rx")))
    if summary is None:
        raise ReportError("no 'packets transmitted' line: ping did not finish")
    transmitted, received = summary
    answered = set(seqs)
    last = max([transmitted] + seqs) if seqs else transmitted
    missing = [n for n in range(1, last + 1) if n not in answered]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return {"transmitted": transmitted, "received": received,
            "lost": max(0, transmitted - received, len(missing)),
            "missing": missing,
            "duplicates": len(seqs) - len(answered),
            "longest_gap_ms": int(round(max(gaps) * 1000)) if gaps else None,
            "replies": len(seqs), "first": stamps[0] if stamps else None,
            "last": stamps[-1] if stamps else None}


def sequence_stats(text):
    """``{count, first, last, missing, repeated, longest_write_gap_ms, ok}`` of the file."""
    numbers, stamps = [], []
    for lineno, line in enumerate((text or "").splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if not words[0].isdigit():
            raise ReportError("sequence line %d is not 'NUMBER [EPOCH]': %r" % (lineno, line))
        numbers.append(int(words[0]))
        if len(words) > 1:
            stamps.append(float(words[1]))
    if not numbers:
        raise ReportError("the sequence file is empty")
    seen = set(numbers)
    missing = [n for n in range(numbers[0], numbers[-1] + 1) if n not in seen]
    repeated = len(numbers) - len(seen)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    order = all(b == a + 1 for a, b in zip(numbers, numbers[1:]))
    return {"count": len(numbers), "first": numbers[0], "last": numbers[-1],
            "missing": missing, "repeated": repeated,
            "longest_write_gap_ms": int(round(max(gaps) * 1000)) if gaps else None,
            "ok": order and numbers[0] == 1}


# What a guest kernel prints when its memory or CPU state went wrong (dmesg, serial console).
_KERNEL_TROUBLE = (
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("oops", re.compile(r"general protection fault|BUG: unable to handle|Oops:|BUG: kernel NULL"
                        r"|kernel BUG at|invalid opcode:|BUG: Bad page|list_(add|del) corruption"
                        r"|BUG: KASAN|slab.*corrupt|Bad rss-counter")),
    ("lockup", re.compile(r"soft lockup|hard LOCKUP|rcu_sched self-detected stall|rcu: INFO: .*stall"
                          r"|blocked for more than \d+ seconds")),
    ("warning", re.compile(r"WARNING: CPU: \d+ PID: \d+")),
)


def kernel_problems(text):
    """``[{kind, line}]``: panics, oopses (GPF, bad page, list corruption, BUG), lockups and
    RCU stalls, kernel WARNINGs found in a guest's kernel log (dmesg or its serial console)."""
    out = []
    for line in (text or "").splitlines():
        for kind, rx in _KERNEL_TROUBLE:
            if rx.search(line):
                out.append({"kind": kind, "line": line.strip()[:300]})
                break
    return out


def human_bytes(value):
    if value is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return "%.1f %s" % (value / float(size), unit)
    return "%d B" % value


COLUMNS = (("direction", "direction"), ("total_time_ms", "total (ms)"),
           ("downtime_ms", "downtime (ms)"), ("transferred", "transferred"),
           ("lost_pings", "lost pings"), ("longest_gap_ms", "longest gap (ms)"),
           ("announced_ms", "announced (ms)"), ("memory", "memory"), ("kernel", "kernel log"))

FATAL = ("panic", "oops", "lockup")


def memory_verdict(memory):
    """``(text, ok)`` of a memcheck ``verify`` answer (None: not checked)."""
    if not memory:
        return None, True
    if memory.get("ok"):
        return "ok (%d MiB)" % (memory.get("checked", 0) * 4096 // 1048576), True
    pages = ", ".join("%d (pfn %s)" % (b["page"], "0x%x" % b["pfn"] if b.get("pfn") is not None else "?")
                      for b in memory.get("bad", [])[:4])
    return "%d bad pages: %s" % (memory.get("bad_count", 0), pages), False


def table(rows):
    """A plain-text table of ``rows`` (dicts with the keys of COLUMNS; the memory and kernel
    log columns only when some move was checked)."""
    columns = [(key, title) for key, title in COLUMNS
               if key not in ("memory", "kernel") or any(r.get(key) is not None for r in rows)]
    cells = [[title for _key, title in columns]]
    for row in rows:
        cells.append(["-" if row.get(key) is None else str(row[key]) for key, _title in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(" | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def announced_ms(result):
    """When the destination announced the guest (live_migration announce=at_switchover)."""
    announce = (result.get("stats") or {}).get("announce") or {}
    return announce.get("announced_after_pause_ms") if announce.get("announced") else None


def report(moves, sequence=None, sequence_on_lun=None):
    """The verdict of a series of migrations.

    ``moves``: ``[{direction, result (live_migration's), ping (ping -D output), memory (the
    guest's memcheck ``verify`` answer, optional), kernel_log (the guest's dmesg after the move,
    optional)}]``;
    ``sequence``: the writer's file read in the guest; ``sequence_on_lun``: the same file read
    from the LUN's backing store (compared without leading/trailing white space).  Returns ``{rows, table, lost_pings, longest_gap_ms,
    sequence, lun_matches, ok}``.
    """
    rows = []
    for move in moves:
        result, ping = move.get("result") or {}, ping_stats(move.get("ping"))
        memory, memory_ok = memory_verdict(move.get("memory"))
        problems = kernel_problems(move.get("kernel_log"))
        fatal = sorted(set(p["kind"] for p in problems if p["kind"] in FATAL))
        rows.append({"memory": memory, "memory_ok": memory_ok,
                     "memory_bad_pages": (move.get("memory") or {}).get("bad", []),
                     "kernel": (", ".join(fatal) if fatal else "ok") if move.get("kernel_log") is not None else None,
                     "kernel_problems": problems, "kernel_ok": not fatal,
                     "direction": move["direction"], "changed": bool(result.get("changed")),
                     "total_time_ms": result.get("total_time_ms"),
                     "downtime_ms": result.get("downtime_ms"),
                     "transferred_bytes": result.get("transferred_bytes"),
                     "transferred": human_bytes(result.get("transferred_bytes")),
                     "lost_pings": ping["lost"], "missing_icmp_seq": ping["missing"],
                     "pings": "%d/%d" % (ping["received"], ping["transmitted"]),
                     "longest_gap_ms": ping["longest_gap_ms"],
                     "announced_ms": announced_ms(result)})
    out = {"rows": rows, "table": table(rows),
           "lost_pings": sum(r["lost_pings"] for r in rows),
           "longest_gap_ms": max([r["longest_gap_ms"] or 0 for r in rows] or [0]),
           "sequence": None, "lun_matches": None}
    out["guest_ok"] = all(r["memory_ok"] and r["kernel_ok"] for r in rows)
    ok = out["guest_ok"] and all(r["lost_pings"] == 0 and not r["missing_icmp_seq"] for r in rows)
    if sequence is not None:
        out["sequence"] = sequence_stats(sequence)
        ok = ok and out["sequence"]["ok"]
    if sequence_on_lun is not None:
        out["lun_matches"] = sequence_on_lun.strip() == sequence.strip()
        ok = ok and out["lun_matches"]
    out["ok"] = ok
    return out
