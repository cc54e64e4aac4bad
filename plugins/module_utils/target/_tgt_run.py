# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tgt provider of iscsi_target (private): the module's flow.

lock -> read -> ask every other exporter -> plan -> apply (rolled back on failure) -> persist.

* One run at a time per tgtd: an exclusive lock on ``/run/lock/sanboot-tgtd-<control port>.lock``
  (two runs reading the same state would pick the same new target id).
* The backing-store check asks every exporter of the host (``_stores``): the other tgtds and every
  vblade; when one cannot be asked the run is refused (no guessing).
* A tgtadm call that fails stops the run: what this run created is taken back (targets, LUNs,
  accounts; LUNs it removed are re-added) and the original error is reported with ``msg, cmd, rc,
  stdout, stderr`` (the password of an account command masked).  Nothing is persisted then.
"""

from __future__ import annotations

import shlex

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import SanbootError, fail
from ansible_collections.sanboot.lab.plugins.module_utils.common._lock import LockTimeout, lock_path, locked
from ansible_collections.sanboot.lab.plugins.module_utils.common._stores import StoreError, all_exports
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import to_yaml
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt import (
    PlanError, plan, predicted, redact, summary)
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_conf import (
    known_secrets, persist, persist_plan)
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import read, read_params, tgtadm

LOCK_TIMEOUT = 120      # seconds a run waits for another run on the same tgtd


class ApplyError(SanbootError):
    """A tgtadm call failed; ``result`` holds msg, cmd, rc, stdout, stderr and the rollback."""

    def __init__(self, result):
        SanbootError.__init__(self, result["msg"])
        self.result = result


def apply(runner, changes, control_port=0):
    """Run the planned tgtadm commands; return the argv lists that ran.  On the first failure
    run the ``undo`` calls of what already ran (last first) and raise :class:`ApplyError`."""
    base = tgtadm(runner, control_port)
    ran, undo = [], []
    for c in changes:
        if not c.args:
            continue
        argv = base + c.args
        rc, out, err = runner(argv, check=False, light=True)
        if rc != 0:
            raise ApplyError(dict(_rollback(runner, base, undo), cmd=redact(argv), rc=rc,
                                  stdout=out, stderr=err, changed=bool(ran),
                                  msg="tgtadm failed: %s (rc %d: %s)%s" % (
                                      c.text or "(continued)", rc, (err or out).strip(),
                                      "; nothing had been changed" if not ran else
                                      "; what this run had changed was rolled back"
                                      if undo else "")))
        ran.append(argv)
        undo.extend(reversed([base + u for u in c.undo]))
    return ran


def _rollback(runner, base, undo):
    done, failed = [], []
    for argv in reversed(undo):
        rc, dummy, err = runner(argv, check=False, light=True)
        text = " ".join(shlex.quote(x) for x in redact(argv[len(base):]))
        (done if rc == 0 else failed).append(text if rc == 0 else "%s (rc %d: %s)"
                                             % (text, rc, err.strip()))
    return dict(rolled_back=done, rollback_failed=failed)


def converge(module, runner, specs, portals):
    """The tgt provider's run under the per-tgtd lock; returns the module result dict."""
    cp = module.params["control_port"]
    path = lock_path("sanboot-tgtd-%d" % cp)
    try:
        with locked(path, LOCK_TIMEOUT, "tgtd control port %d" % cp):
            return _converge(module, runner, specs, portals)
    except LockTimeout as e:
        module.fail_json(msg="control_port: %s" % e, option="control_port")
    except (OSError, IOError) as e:
        module.fail_json(msg="control_port: cannot lock %s: %s" % (path, e), option="control_port")
    return None


def _read(runner, cp, specs):
    """The tgtd's state, with the parameters of the targets whose request sets some."""
    tuned = [s.name for s in specs if s.state == "present" and s.parameters]
    return read_params(runner, read(runner, cp), tuned, cp)


def _converge(module, runner, specs, portals):
    p = module.params
    cp, config_dir = p["control_port"], p["config_dir"] or "/etc/tgt/conf.d"
    state = _read(runner, cp, specs)

    def exports():      # asked only when a LUN needs the store check (never on a no-op run)
        return all_exports(lambda argv: runner(argv, check=False, light=True),
                           runner.which("tgtadm", required=False), skip_ports=[cp])
    try:
        changes = plan(state, specs, force=p["force"], purge=p["purge"], portals=portals,
                       known=known_secrets(config_dir), trust_unknown=not p["persist"],
                       exports=exports)
    except StoreError as e:
        module.fail_json(msg="luns: cannot tell who else exports the backing stores: %s" % e,
                         option="luns")
    except PlanError as e:
        fail(module, e)
    writes = persist_plan(config_dir, specs, p["purge"]) if p["persist"] else []
    texts = [c.text for c in changes if c.text]
    texts += ["%s %s" % ("remove" if t is None else "write", path) for path, t in writes]
    names = [s.name for s in specs]
    names += sorted(set(c.target for c in changes if c.target and c.target not in names))
    commands = []
    if module.check_mode:
        after = dict((s.name, predicted(s, state.targets.get(s.name), None))
                     for s in specs if s.state == "present")
    else:
        try:
            ran = apply(runner, changes, cp)
        except ApplyError as e:
            module.fail_json(**e.result)
        commands = [" ".join(shlex.quote(x) for x in redact(a)) for a in ran]
        persist(writes)
        after = (_read(runner, cp, specs) if commands else state).targets
    before_l = [summary(state.targets.get(n)) for n in names if n in state.targets]
    after_l = [summary(after.get(n)) for n in names if n in after]
    result = dict(changed=bool(texts), changes=texts, commands=commands, targets=after_l,
                  target=after_l[0] if p["name"] and after_l else None)
    if module._diff:
        result["diff"] = dict(before=to_yaml(before_l), after=to_yaml(after_l),
                              before_header="tgtd (control port %d)" % cp,
                              after_header="tgtd (control port %d)" % cp)
    return result
