# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The abuse suite's one rule: hostile input is refused by name and changes nothing.

Each ``tests/integration/test_abuse_<module>.py`` holds a table of cases (arguments, the option
the error must name) and calls :func:`assert_refused`, which takes a :func:`snapshot` of what
the module could have touched (files and links under the given directories, with mode, owner,
size, content hash and link target; each tgtd's ``tgtadm --op show`` per control port; the
tgtd/vblade processes that run), runs the module as Ansible runs it on a host (real check mode
off: a refusal must come before anything changes), and compares.
"""

from __future__ import annotations

import hashlib
import os
import subprocess

from _ansible import run_module  # pylint: disable=import-error

DAEMONS = ("tgtd", "vblade")


def _files(base):
    out = {}
    if not os.path.lexists(base):
        return {base: None}
    for top, dirs, files in os.walk(base, followlinks=False):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            entry = (st.st_mode, st.st_uid, st.st_gid, st.st_size)
            if os.path.islink(path):
                entry += ("->", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    entry += (hashlib.sha256(f.read()).hexdigest(),)
            out[path] = entry
    st = os.lstat(base)
    out[base] = (st.st_mode, st.st_uid, st.st_gid)
    return out


def processes(names=DAEMONS):
    """``{pid: argv}`` of the running processes whose program is one of ``names``, in this
    mount namespace (the daemons of LXC lab hosts running beside the tests are not ours), except
    those another pytest-xdist worker started (``PYTEST_XDIST_WORKER`` in their environment: the
    files of the other worker start and stop their own tgtd meanwhile; tests/integration/_workers.py)."""
    out, ours = {}, os.readlink("/proc/self/ns/mnt")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/mnt" % pid) != ours:
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
            if not argv or os.path.basename(argv[0]) not in names:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                started_by = [e[len(b"PYTEST_XDIST_WORKER="):] for e in f.read().split(b"\0")
                              if e.startswith(b"PYTEST_XDIST_WORKER=")]
        except OSError:
            continue
        if not started_by or started_by[0] == worker:
            out[int(pid)] = tuple(argv)
    return out


def tgtd_state(control_port):
    """Everything a tgtd shows: targets, LUNs, ACLs, accounts (text, as tgtadm prints it)."""
    out = []
    for mode in ("target", "account"):
        proc = subprocess.run(["tgtadm", "-C", str(control_port), "--lld", "iscsi", "--op", "show",
                               "--mode", mode], capture_output=True, text=True, check=False)
        out.append((mode, proc.returncode, proc.stdout))
    return out


def snapshot(paths=(), tgtd_ports=(), daemons=True):
    """What the system looks like: files under ``paths``, each tgtd's state, the daemons."""
    state = {"files": {}, "tgtd": {}, "processes": processes() if daemons else {}}
    for path in paths:
        state["files"].update(_files(str(path)))
    for port in tgtd_ports:
        state["tgtd"][port] = tgtd_state(port)
    return state


def assert_refused(module, args, option, tmpdir, watch=None, check_mode=False):
    """Run ``module`` with ``args``: it must fail, its ``msg`` must name ``option`` (and so must
    its ``option`` when it has one), and the snapshot of ``watch`` (keyword arguments of
    :func:`snapshot`) must not change."""
    watch = dict(watch or {})
    before = snapshot(**watch)
    result = run_module(module, args, tmpdir, check_mode=check_mode)
    after = snapshot(**watch)
    assert result.get("failed"), "%s accepted %r: %r" % (module, args, result)
    assert option in result.get("msg", ""), "the error does not name %r: %r" % (option, result.get("msg"))
    named = result.get("option")      # set when one option is to blame (_errors.fail)
    assert named is None or option in named or named in option, "option %r, not %r" % (named, option)
    assert not result.get("changed"), result
    for key in ("files", "tgtd", "processes"):
        assert before[key] == after[key], "%s changed %s: %r" % (module, key, _delta(before[key], after[key]))
    return result


def _delta(before, after):
    keys = set(before) | set(after)
    return {k: (before.get(k), after.get(k)) for k in sorted(keys, key=str) if before.get(k) != after.get(k)}
