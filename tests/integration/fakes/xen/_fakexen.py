# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared state of the FAKE Xen tools used by tests (no Xen hypervisor runs on this machine).

Every fake host is a directory $FAKE_XEN_STATE/<host>/ with ``info`` (what ``xl info`` /
``xm info`` print), ``domains/<name>.json`` (xl: one libxl_domain_config JSON object) or
``domains/<name>.sxp`` (xm: the ``xm list --long`` s-expression), ``root/`` (files that the
fake ssh maps absolute paths into), optional ``fail-migrate`` (its text is the error a
migration from this host fails with) or ``hang-migrate`` (a migration from this host never
ends), optional ``fail-restore`` (``xl restore`` on this host fails with its text), and
``calls.log`` (one JSON argv per call of a fake).  The current host is
$FAKE_XEN_HOST (the fake ssh sets it for the remote command).
"""

import json
import os
import sys

STATE = os.environ.get("FAKE_XEN_STATE", "/nonexistent")
HOST = os.environ.get("FAKE_XEN_HOST", "local")


def hostdir(host=None):
    return os.path.join(STATE, host or HOST)


def record(tool, argv):
    d = hostdir()
    if os.path.isdir(d):
        with open(os.path.join(d, "calls.log"), "a") as f:
            f.write(json.dumps([tool] + list(argv)) + "\n")


def domain_file(name, ext, host=None):
    return os.path.join(hostdir(host), "domains", "%s.%s" % (name, ext))


def die(msg, rc=1):
    sys.stderr.write(msg + "\n")
    sys.exit(rc)
