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

C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}


class Runner(object):
    """Run commands for ``module``; remember what ran (``self.history``)."""

    def __init__(self, module):
        self.module = module
        self.history = []

    def __call__(self, argv, check=True, data=None, msg=None, ok_rcs=(0,), binary_data=False):
        """Run ``argv``; return ``(rc, stdout, stderr)``.

        With ``check`` (default) an rc outside ``ok_rcs`` fails the module.
        """
        argv = [str(a) for a in argv]
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
