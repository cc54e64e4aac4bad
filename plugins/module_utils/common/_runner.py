# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one command runner of the collection (private).

Every external command of every module goes through :class:`Runner`: arguments are a list
(never a shell string), the locale is ``C`` so that parsers see stable English output, and a
failure ends the module with ``msg, cmd, rc, stdout, stderr``.  AnsibleModule masks ``no_log``
values (CHAP secrets) in those fields.
"""

from __future__ import annotations

import os
import subprocess

C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}


class Runner(object):
    """Run commands for ``module``; remember what ran (``self.history``)."""

    def __init__(self, module):
        self.module = module
        self.history = []

    def __call__(self, argv, check=True, data=None, msg=None, ok_rcs=(0,), binary_data=False,
                 light=False):
        """Run ``argv``; return ``(rc, stdout, stderr)``.

        With ``check`` (default) an rc outside ``ok_rcs`` fails the module.  ``light``: a
        command without input that runs many times (thousands of ``tgtadm`` calls) runs
        through :func:`run_light` instead of ``AnsibleModule.run_command``, whose ``preexec_fn``
        makes every call a full fork of the module's process (about 2.5 times the cost).  A
        replaced ``run_command`` (a test's fake) still sees every call.
        """
        argv = [str(a) for a in argv]
        if light and data is None and _own_run_command(self.module):
            rc, out, err = run_light(argv)
        else:
            rc, out, err = self.module.run_command(
                argv, check_rc=False, data=data, binary_data=binary_data,
                environ_update=dict(C_LOCALE),
            )
        self.history.append(argv)
        if check and rc not in ok_rcs:
            self.fail(msg or "command failed: %s" % argv[0], argv, rc, out, err)
        return rc, out, err

    def fail(self, msg, argv, rc, out, err):
        self.module.fail_json(msg=msg, cmd=argv, rc=rc, stdout=out, stderr=err)

    def which(self, name, required=True):
        """Path of executable ``name`` (fails the module when ``required`` and missing)."""
        return self.module.get_bin_path(name, required=required)


def _own_run_command(module):
    """True when ``module.run_command`` is AnsibleModule's own (not a replacement)."""
    fn = getattr(type(module), "run_command", None)
    return (getattr(fn, "__module__", None) == "ansible.module_utils.basic"
            and getattr(fn, "__qualname__", None) == "AnsibleModule.run_command")


def run_light(argv):
    """``(rc, stdout, stderr)`` of ``argv`` (a list, no shell, no stdin, the C locale, text
    decoded as UTF-8 with surrogate escapes).  Arguments are passed as they are: unlike
    ``run_command`` no ``~`` or ``$VAR`` in them is expanded.  A missing executable is rc 127
    (``run_command`` fails the module then; callers here resolved it with :meth:`Runner.which`)."""
    env = dict(os.environ)
    env.update(C_LOCALE)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, close_fds=True, check=False)
    except OSError as e:
        return 127, "", "%s: %s" % (argv[0], e)
    return (proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"),
            proc.stderr.decode("utf-8", "surrogateescape"))
