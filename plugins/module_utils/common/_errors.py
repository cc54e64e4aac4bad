# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error base class (private, common layer).

Every exception of ``module_utils`` derives from :class:`SanbootError`: it carries the message
(``msg``, also its ``str()``) and the option it concerns (``option``, e.g. ``"luns[0].path"``;
None when no single option is to blame).  The message itself still names the option, so a
caller that only reports ``str(exc)`` loses nothing.

* :class:`RequestError` -- bad input, refused before anything changes (request checkers).
* :class:`PlanError` -- a request a planner refuses (in use, conflicts, limits), before anything
  changes.
  Both are ``ValueError`` as well: callers that catch ``ValueError`` around a check keep working.

:func:`fail` ends a module with such an error: ``module.fail_json(msg=..., option=...)``
(``option`` only when it is known).
"""

from __future__ import annotations


class SanbootError(Exception):
    """An error of this collection: ``msg`` and the ``option`` it concerns (or None)."""

    def __init__(self, msg, option=None):
        super(SanbootError, self).__init__(msg)
        self.msg = msg
        self.option = option


class RequestError(SanbootError, ValueError):
    """Bad input: the message names the option and the rule (nothing has been changed)."""


class PlanError(SanbootError, ValueError):
    """A refused request (nothing has been changed)."""


def fail(module, exc, **extra):
    """``module.fail_json`` with the message of ``exc`` and, when it is known, its ``option``;
    ``extra`` keys (e.g. ``cmd``, ``rc``) go into the result as well."""
    result = dict(extra, msg=str(exc))
    if getattr(exc, "option", None):
        result["option"] = exc.option
    module.fail_json(**result)
