# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error base class (_errors): message and option, the module helper, and every exception
class of module_utils deriving from it (names kept where they were imported)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from ansible_collections.sanboot.lab.plugins import module_utils
from ansible_collections.sanboot.lab.plugins.module_utils.common import _errors
from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import (
    PlanError, RequestError, SanbootError, fail)


def test_message_and_option():
    e = SanbootError("luns[0].path: backing store /x does not exist", option="luns[0].path")
    assert str(e) == e.msg == "luns[0].path: backing store /x does not exist"
    assert e.option == "luns[0].path"
    assert SanbootError("no option").option is None


def test_request_and_plan_errors_are_value_errors():
    for cls in (RequestError, PlanError):
        with pytest.raises(ValueError) as e:
            raise cls("size: too small", option="size")
        assert isinstance(e.value, SanbootError) and e.value.option == "size"


class Module(object):
    def fail_json(self, **kw):
        raise RuntimeError(kw)


def failed(exc, **extra):
    with pytest.raises(RuntimeError) as e:
        fail(Module(), exc, **extra)
    return e.value.args[0]


def test_fail_reports_the_option_when_known():
    assert failed(PlanError("chap: two secrets", option="chap")) == dict(msg="chap: two secrets",
                                                                         option="chap")
    assert failed(SanbootError("tgtadm failed"), rc=1, cmd=["tgtadm"]) == dict(
        msg="tgtadm failed", rc=1, cmd=["tgtadm"])
    assert failed(ValueError("plain")) == dict(msg="plain")


def _modules():
    for info in pkgutil.walk_packages(list(module_utils.__path__), module_utils.__name__ + "."):
        if not info.ispkg:
            yield importlib.import_module(info.name)


def test_every_exception_class_derives_from_sanboot_error():
    classes = set()
    for mod in _modules():
        for _name, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith(module_utils.__name__):
                classes.add(obj)
    assert len(classes) >= 12
    assert [c.__name__ for c in classes if not issubclass(c, SanbootError)] == []


def _cls(path, name):
    return getattr(importlib.import_module("%s.%s" % (module_utils.__name__, path)), name)


def test_names_stay_importable_and_shared():
    assert _cls("target._tgt", "PlanError") is _cls("aoe._vblade", "PlanError") is \
        _cls("lvm._lvm", "PlanError") is _errors.PlanError
    assert _cls("target._spec", "SpecError") is _cls("boot._cmdline", "RequestError") is RequestError
    assert _cls("boot._initramfs", "RequestError") is RequestError
    for path, name in (("common._iqn", "IQNError"), ("common._files", "UnsafePath"),
                       ("lvm._lvm", "PlanError"), ("target._spec", "SpecError")):
        assert issubclass(_cls(path, name), ValueError), name     # callers catch ValueError
    for path, name in (("common._stores", "StoreError"), ("common._lock", "LockTimeout"),
                       ("target._tgt_run", "ApplyError"), ("target._ietd", "IetError"),
                       ("aoe._protocol", "AoEError"), ("initiator._libiscsi", "LoginRefused"),
                       ("migrate._driver", "MigrationError"), ("migrate._report", "ReportError")):
        assert issubclass(_cls(path, name), SanbootError), name


def test_request_checkers_name_the_option():
    from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import IQNError, validate
    from ansible_collections.sanboot.lab.plugins.module_utils.common._units import parse_size
    with pytest.raises(IQNError) as e:
        validate("iqn.2008.06.biz.frode:storage", what="targets[2].initiators[0]")
    assert e.value.option == "targets[2].initiators[0]" and isinstance(e.value, RequestError)
    with pytest.raises(RequestError) as e:
        parse_size("lots", what="size")
    assert e.value.option == "size" and str(e.value).startswith("size: ")
