# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps of ``iscsi_target_scale`` (private): the module's arguments, tgt-admin's config, an
ad-hoc Ansible task, a command under a time budget, a tgtd sized for the LUN count.

tgtd (bs_rdwr, tgt 1.0.85) starts ``--nr_iothreads`` threads (default 16) for every LUN it
opens: 1,024 LUNs are 16,384 threads, 4,096 LUNs would be 65,536, more than this kernel's
``pid_max`` lets the whole machine have.  :func:`iothreads` picks the default when it fits in
the free thread ids (leaving a reserve for everybody else) and a smaller ``-t`` otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess

from bench import _common

TGTD_DEFAULT_IOTHREADS = 16       # tgt 1.0.85 bs.c: threads per bs_rdwr backing store
THREAD_RESERVE = 8192             # thread ids left to the rest of the machine
ANSIBLE_TIMEOUT = 900


def module_args(tmp, n_targets, n_luns, control_port):
    """``sanboot.lab.iscsi_target`` arguments: ``n_targets`` targets of ``n_luns`` sparse 1 MiB
    files each, admitting 127.0.0.1, persisted under ``tmp/conf.d``."""
    os.makedirs(tmp)
    targets = []
    for t in range(n_targets):
        luns = []
        for lun in range(1, n_luns + 1):
            path = _common.sparse_file(os.path.join(tmp, "t%04d-l%d.img" % (t, lun)), _common.MIB)
            luns.append({"lun": lun, "path": path})
        targets.append({"name": "iqn.2024-01.lab.sanboot.bench:scale%04d" % t, "luns": luns,
                        "initiator_addresses": ["127.0.0.1"]})
    return {"targets": targets, "control_port": control_port,
            "config_dir": os.path.join(tmp, "conf.d")}


def admin_config(tmp, args):
    """tgt-admin's config: the files the module persisted, on a copy of the backing files.

    tgt-admin skips a backing store another tgtd holds open ("it is in use"), hence the copies.
    """
    src, dst = os.path.join(tmp, "module"), os.path.join(tmp, "admin")
    os.makedirs(dst)
    for target in args["targets"]:
        for lun in target["luns"]:
            _common.sparse_file(lun["path"].replace(src, dst, 1), _common.MIB)
    conf = os.path.join(tmp, "tgt-admin.conf")
    with open(conf, "w", encoding="utf-8") as out:
        for name in sorted(os.listdir(args["config_dir"])):
            with open(os.path.join(args["config_dir"], name), encoding="utf-8") as f:
                out.write(f.read().replace(src + "/", dst + "/"))
    return conf


def ansible(module, args, tmp, timeout=ANSIBLE_TIMEOUT):
    """Run ``module`` with ``args`` as the one task of a playbook on localhost (``-c local``, no
    facts) and return ``({changed, commands: count}, seconds)``.

    A playbook, as the module is used: the default callback prints one line per task, where an
    ad-hoc task or the json callback would print the whole result (megabytes at 4,096 LUNs).
    ``targets`` comes from a variables file: 4,096 LUNs on the command line would exceed Linux's
    128 KiB limit of one argument (MAX_ARG_STRLEN).  A second task prints what the run changed.
    """
    args = dict(args or {})
    report = {"ansible.builtin.debug": {"msg": "SCALE changed={{ scale_result.changed }} writes="
                                               "{{ (scale_result.commands | default([])) | length }}"}}
    play = {"hosts": "localhost", "gather_facts": False, "connection": "local",
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "tasks": [{"name": "the step", module: args, "register": "scale_result"}, report]}
    if "targets" in args:
        path = os.path.join(tmp, "targets.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"scale_targets": args["targets"]}, f)
        args["targets"] = "{{ scale_targets }}"
        play["vars_files"] = [path]
    book = os.path.join(tmp, "scale-play.yml")
    with open(book, "w", encoding="utf-8") as f:
        json.dump([play], f)        # JSON is YAML
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(_common.ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR="1",
               PATH=_common.VENV_BIN + os.pathsep + os.environ["PATH"])
    argv = [os.path.join(_common.VENV_BIN, "ansible-playbook"), book]
    proc, seconds = _common.run(argv, env=env, cwd=_common.ROOT, check=False, timeout=timeout)
    m = re.search(r"SCALE changed=(\w+) writes=(\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise RuntimeError("ansible-playbook %s: rc %d\n%s%s"
                           % (module, proc.returncode, proc.stdout[-3000:], proc.stderr[-2000:]))
    return {"changed": m.group(1) == "True", "commands": int(m.group(2))}, seconds


def collections_path():
    return os.environ.get("SCALE_COLLECTIONS_PATH") or os.path.join(_common.ROOT, ".cache",
                                                                    "collections")


def module_alone(module, args, tmp, timeout=ANSIBLE_TIMEOUT):
    """The module's own process, without Ansible: ``python -m <module> ARGS.json`` as the
    AnsiballZ wrapper runs it; return (result dict, seconds)."""
    path = os.path.join(tmp, "module-args.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    ns, name = module.rsplit(".", 1)
    argv = [os.path.join(_common.VENV_BIN, "python"), "-m",
            "ansible_collections.%s.plugins.modules.%s" % (ns, name), path]
    proc, seconds = _common.run(argv, env=dict(os.environ, PYTHONPATH=collections_path()),
                                check=False, timeout=timeout)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError("%s alone: rc %d\n%s%s" % (module, proc.returncode, proc.stdout[-2000:],
                                                      proc.stderr[-2000:])) from None
    if result.get("failed"):
        raise RuntimeError("%s alone failed: %s" % (module, str(result.get("msg"))[:2000]))
    return {"changed": result["changed"], "commands": len(result.get("commands") or [])}, seconds


def budgeted(argv, budget):
    """Run ``argv`` in its own session for at most ``budget`` seconds.

    Returns ``(seconds, finished)``; when the budget runs out the process group it started is
    killed (SIGKILL to that group only) and ``finished`` is False.
    """
    rc, seconds, timed_out = _common.run_group(argv, budget, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if timed_out:
        return seconds, False
    if rc != 0:
        raise RuntimeError("%s: rc %d" % (" ".join(argv[:4]), rc))
    return seconds, True


def counts(control_port):
    """(targets, LUNs other than the LUN 0 controllers) the daemon shows, and the seconds it took."""
    proc, seconds = _common.run(["tgtadm", "-C", str(control_port), "--lld", "iscsi", "--op",
                                 "show", "--mode", "target"], timeout=300)
    targets = len(re.findall(r"^Target \d+:", proc.stdout, re.M))
    luns = len(re.findall(r"^\s+LUN: [1-9]\d*$", proc.stdout, re.M))
    return targets, luns, seconds


def threads_in_use():
    return sum(1 for name in os.listdir("/proc") if name.isdigit()
               for _t in _tasks(name))


def _tasks(pid):
    try:
        return os.listdir("/proc/%s/task" % pid)
    except OSError:
        return []


def iothreads(n_luns):
    """``(nr_iothreads, why)`` for a tgtd that will open ``n_luns`` LUNs (None: tgtd's default)."""
    with open("/proc/sys/kernel/pid_max", encoding="ascii") as f:
        pid_max = int(f.read())
    free = pid_max - threads_in_use() - THREAD_RESERVE
    if n_luns * TGTD_DEFAULT_IOTHREADS <= free:
        return None, None
    n = max(1, free // max(n_luns, 1))
    return n, ("tgtd -t %d: %d LUNs x %d default I/O threads = %d threads; pid_max %d allows "
               "%d free (%d kept for the rest of the machine)"
               % (n, n_luns, TGTD_DEFAULT_IOTHREADS, n_luns * TGTD_DEFAULT_IOTHREADS, pid_max,
                  free + THREAD_RESERVE, THREAD_RESERVE))


@contextlib.contextmanager
def tgtd(control_port, portal, nr_iothreads=None):
    """The tests' throwaway tgtd (``-t nr_iothreads`` when given); yields (daemon, its pid);
    stopped by PID afterwards, also on failure."""
    daemon = _common.tgtd_class()(control_port, portal,
                                  ["-t", str(nr_iothreads)] if nr_iothreads else [])
    try:
        daemon.start()
        yield daemon, daemon.proc.pid
    finally:
        daemon.stop()


def proc_status(pid):
    """Threads and open file descriptors of ``pid`` (None when gone)."""
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            threads = next(int(ln.split()[1]) for ln in f if ln.startswith("Threads:"))
        return {"threads": threads, "fds": len(os.listdir("/proc/%d/fd" % pid))}
    except (OSError, StopIteration):
        return None
