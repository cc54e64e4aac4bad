# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vblade supervisors (private): the systemd template unit and its plan, pidfiles, applying a plan.

Files go through ``_files.write_atomic`` (a temporary file created with ``O_EXCL|O_NOFOLLOW`` and
its mode, renamed over the target: a symlink planted at the target or at a temporary name is
never followed).  A pidfile whose pid is gone, or is no longer that vblade export, is stale:
:func:`pidfile_state` tells, and the plan removes it (and starts the export again when it should
run) instead of leaving it behind.
"""

from __future__ import annotations

import os
import time

from ansible_collections.sanboot.lab.plugins.module_utils.common._files import write_atomic
from ansible_collections.sanboot.lab.plugins.module_utils.aoe._vblade import (
    ENV_DIR, RUN_DIR, START_SCRIPT, UNIT_DIR, UNIT_NAME, Action, PlanError, build_argv, describe,
    device_name, parse_argv, pid_alive, plan_process, stop_action, unit_instance)


def render_unit(vblade="/usr/sbin/vblade"):
    """The systemd template unit (one instance per export, ``%i`` = e<shelf>.<slot>)."""
    return (
        "# Managed by sanboot.lab (aoe_export): one vblade AoE export per instance e<shelf>.<slot>\n"
        "[Unit]\n"
        "Description=AoE export %i (vblade)\n"
        "After=network.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        "EnvironmentFile=" + ENV_DIR + "/%i.env\n"
        "ExecStart=" + vblade + " $VBLADE_OPTIONS ${VBLADE_SHELF} ${VBLADE_SLOT} ${VBLADE_NETIF} "
        "${VBLADE_FILE}\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n")


def render_env(desired):
    """The instance's EnvironmentFile (values are validated: no quotes, '$' or backslashes)."""
    options = " ".join(build_argv(desired)[1:-4])
    return ("# Managed by sanboot.lab (aoe_export): %s\n" % describe(desired)
            + 'VBLADE_OPTIONS="%s"\n' % options
            + "VBLADE_SHELF=%d\nVBLADE_SLOT=%d\n" % (desired["shelf"], desired["slot"])
            + 'VBLADE_NETIF="%s"\nVBLADE_FILE="%s"\n' % (desired["interface"], desired["path"]))


def plan_systemd(desired, state, mine, unit, force, vblade="/usr/sbin/vblade"):
    """Plan for the ``systemd`` supervisor.  ``unit``: dict(unit_text, env_text, enabled, active,
    main_pid) as read from the host (texts None when the file is missing)."""
    name = unit_instance(desired["shelf"], desired["slot"])
    dev = device_name(desired["shelf"], desired["slot"])
    ours = {unit.get("main_pid")} - {None, 0}
    foreign = [e for e in mine if e["pid"] not in ours]
    if state == "absent":
        if foreign and not force:
            raise PlanError("vblade pid %d (%s) does not belong to %s; state=absent stops it only "
                            "with force=true" % (foreign[0]["pid"], describe(foreign[0]), name), option="state")
        actions = []
        if unit.get("enabled") or unit.get("active"):
            actions.append(Action("disable", "disable and stop " + name, unit=name))
        actions += [stop_action(e, ours) for e in foreign]
        if unit.get("env_text") is not None:
            actions.append(Action("remove_env", "remove %s/%s.env" % (ENV_DIR, dev), device=dev))
        return actions
    actions = [stop_action(e, ours) for e in foreign]
    unit_text, env_text = render_unit(vblade), render_env(desired)
    if unit.get("unit_text") != unit_text:
        actions += [Action("write_unit", "write %s/%s" % (UNIT_DIR, UNIT_NAME), content=unit_text),
                    Action("daemon_reload", "systemctl daemon-reload")]
    env_changed = unit.get("env_text") != env_text
    if env_changed:
        actions.append(Action("write_env", "write %s/%s.env: %s" % (ENV_DIR, dev, describe(desired)),
                              device=dev, content=env_text))
    if not unit.get("enabled") or not unit.get("active"):
        actions.append(Action("enable", "enable --now " + name, unit=name))
    if unit.get("active") and (env_changed or unit.get("unit_text") not in (None, unit_text)):
        actions.append(Action("restart", "restart " + name, unit=name))
    return actions


# ---- apply ----------------------------------------------------------------------------------
def _write(path, text, mode=0o644):
    write_atomic(path, text, mode, parents=True)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def pidfile(dev, run_dir=RUN_DIR):
    return os.path.join(run_dir, dev + ".pid")


def read_pidfile(dev, run_dir=RUN_DIR):
    text = read_text(pidfile(dev, run_dir))
    try:
        return int(text.strip())
    except (AttributeError, ValueError):
        return None


def pidfile_state(dev, run_dir=RUN_DIR, proc="/proc"):
    """``(pid, stale)`` of ``dev``'s pidfile: ``(pid, None)`` when it names a live vblade serving
    ``dev``, ``(None, why)`` when it is stale (pid gone, a zombie, another program or another
    export), ``(None, None)`` without a pidfile."""
    path = pidfile(dev, run_dir)
    text = read_text(path)
    if text is None:
        return None, None
    pid = read_pidfile(dev, run_dir)
    if pid is None or pid <= 0:
        return None, "%s holds no pid" % path
    if not pid_alive(pid, proc):
        return None, "%s names pid %d, which no longer runs" % (path, pid)
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            argv = [a.decode("utf-8", "surrogateescape") for a in handle.read().split(b"\0")[:-1]]
    except (IOError, OSError):
        argv = []
    parsed = parse_argv(argv)
    if parsed is None or device_name(parsed["shelf"], parsed["slot"]) != dev:
        return None, "%s names pid %d, which is not the vblade of %s" % (path, pid, dev)
    return pid, None


def plan_process_pidfile(desired, state, mine, force, run_dir=RUN_DIR, proc="/proc"):
    """``_vblade.plan_process`` with the pidfile: only a live vblade of this device named by it
    counts as started by this module, and a stale pidfile is removed first."""
    dev = device_name(desired["shelf"], desired["slot"])
    pid, stale = pidfile_state(dev, run_dir, proc)
    actions = plan_process(desired, state, mine, set([pid]) - set([None]), force)
    if stale:
        if state == "present" and not actions:
            # the export runs but its pidfile lost track of it: it was not started by this module
            return actions
        actions.insert(0, Action("remove_pidfile", "remove stale pidfile: %s" % stale, device=dev))
    return actions


class Applier(object):
    """Executes a plan through ``runner`` (the collection's Runner); ``wait`` bounds how long
    a start or stop may take (seconds)."""

    def __init__(self, runner, vblade="vblade", run_dir=RUN_DIR, unit_dir=UNIT_DIR, env_dir=ENV_DIR,
                 wait=10.0, proc="/proc"):
        self.runner, self.vblade, self.run_dir = runner, vblade, run_dir
        self.unit_dir, self.env_dir, self.wait, self.proc = unit_dir, env_dir, wait, proc
        self.started_pid = None

    def apply(self, actions):
        for action in actions:
            getattr(self, "do_" + action.kind)(**action.args)

    def do_stop(self, pid):
        self.runner(["kill", "-TERM", str(pid)], ok_rcs=(0, 1))
        deadline = time.monotonic() + self.wait
        while pid_alive(pid, self.proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid, self.proc):
            self.runner(["kill", "-KILL", str(pid)], ok_rcs=(0, 1))
        for dev_pid in os.listdir(self.run_dir) if os.path.isdir(self.run_dir) else []:
            if dev_pid.endswith(".pid") and read_text(os.path.join(self.run_dir, dev_pid)) == "%d\n" % pid:
                _remove(os.path.join(self.run_dir, dev_pid))

    def do_remove_pidfile(self, device):
        _remove(pidfile(device, self.run_dir))

    def do_start(self, export):
        dev = device_name(export["shelf"], export["slot"])
        os.makedirs(self.run_dir, mode=0o755, exist_ok=True)
        pid_path, log = pidfile(dev, self.run_dir), os.path.join(self.run_dir, dev + ".log")
        _remove(pid_path)
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        argv = ["setsid", "-f", "/bin/sh", "-c", START_SCRIPT, "sanboot-vblade", pid_path, log]
        self.runner(argv + build_argv(export, self.vblade))
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            pid = read_pidfile(dev, self.run_dir)
            text = (read_text(log) or "")[offset:]
            if pid and "pid %d: %s" % (pid, dev) in text and pid_alive(pid, self.proc):
                self.started_pid = pid
                return
            if pid and not pid_alive(pid, self.proc):
                break
            time.sleep(0.05)
        self.runner.fail("vblade did not start: %s" % describe(export), argv + build_argv(export, self.vblade),
                         None, "", (read_text(log) or "")[offset:])

    def do_write_unit(self, content):
        _write(os.path.join(self.unit_dir, UNIT_NAME), content)

    def do_daemon_reload(self):
        self.runner(["systemctl", "daemon-reload"])

    def do_write_env(self, device, content):
        _write(os.path.join(self.env_dir, device + ".env"), content)

    def do_remove_env(self, device):
        _remove(os.path.join(self.env_dir, device + ".env"))

    def do_enable(self, unit):
        self.runner(["systemctl", "enable", "--now", unit])

    def do_restart(self, unit):
        self.runner(["systemctl", "restart", unit])

    def do_disable(self, unit):
        self.runner(["systemctl", "disable", "--now", unit])


def read_systemd(runner, shelf, slot, unit_dir=UNIT_DIR, env_dir=ENV_DIR):
    """Current systemd state of an export (read-only commands)."""
    name = unit_instance(shelf, slot)
    rc_enabled, _o, _e = runner(["systemctl", "is-enabled", name], check=False)
    rc_active, _o, _e = runner(["systemctl", "is-active", name], check=False)
    _rc, out, _e = runner(["systemctl", "show", "-p", "MainPID", "--value", name], check=False)
    try:
        main_pid = int(out.strip())
    except ValueError:
        main_pid = 0
    return {"unit_text": read_text(os.path.join(unit_dir, UNIT_NAME)),
            "env_text": read_text(os.path.join(env_dir, device_name(shelf, slot) + ".env")),
            "enabled": rc_enabled == 0, "active": rc_active == 0, "main_pid": main_pid}
