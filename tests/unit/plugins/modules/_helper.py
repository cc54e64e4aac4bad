# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table-driven tests of a module's ``main()``: arguments in, commands run and result out.

The style of community.general's YAML unit tests (``tests/unit/plugins/modules/test_<module>.yaml``
next to a short ``test_<module>.py``).  The file holds ``anchors`` (free, for YAML anchors) and
``test_cases``, each::

    id: short_name
    flags: {check: false, diff: false}
    input: {module arguments}
    setup:                          # the host as the module sees it, all under the case's tmp dir
      files: {relative path: text | {content, size, mode, symlink, dir} | null}
      proc: {PID: {cmdline: [argv...], cwd: /, root: /, net: "net:[...]", state: S}}
      interfaces: {eth0: 4163}      # SIOCGIFFLAGS of each existing interface (_netif.flags)
    mocks:
      bin_paths: {tgtadm: null}     # get_bin_path answers (default /usr/sbin/NAME)
      run_command:                  # every call, in order: argv asserted, rc/out/err returned
                                    # (a list in the list is spliced in: YAML anchors of several calls)
        - command: [argv...]        # an element {re: PATTERN} matches by re.fullmatch
          environ: {LC_ALL: C}      # environ_update, else os.environ at call time; null: unset
          data: text sent on stdin (optional)
          rc: 0
          out: text | out_fixture: path under tests/unit/plugins/module_utils/fixtures/
          err: text | err_fixture: path
          effects: {files: {...}, remove: [relative path], proc: {...}}   # what the command leaves
      NAME: ...                     # a mock of the test file (``Table(..., mocks={NAME: hook})``)
    output: {key: exact value}      # of the exit_json/fail_json result
    output_re: {key: regex}         # re.search in str(value)
    files: {relative path: null | text | {content, mode}}    # after the run (null: no match of the glob)

``@TMP@`` in any string stands for the case's directory.  The host paths the module_utils keep
as constants or defaults (``/proc``, ``/var/run/tgtd``, lock and vblade directories, ...) point
into it, and a write outside it fails the test.  exit_json/fail_json run for real (their JSON
is parsed from stdout), so ``no_log`` masking is tested too: no input value under a
``*password*`` key may appear in the output.  ``TABLE_PRINT=1 pytest -s`` prints each result.
"""

import builtins
import glob
import importlib
import json
import os
import pkgutil
import re
import shutil

import pytest
import yaml

from _fixtures import FIXTURES
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.sanboot.lab.plugins import module_utils as _mu
from ansible_collections.sanboot.lab.plugins.module_utils.common import _netif

TMP = "@TMP@"
# host locations the module_utils read or write, as constants or argument defaults
HOST_PATHS = {"/proc": "proc", "/proc/self/mountinfo": "proc/self/mountinfo",
              "/var/run/tgtd": "var/run/tgtd", "/run/lock": "run/lock", "/var/lock": "var/lock",
              "/etc/systemd/system": "etc/systemd/system", "/etc/sanboot/vblade": "etc/sanboot/vblade",
              "/run/sanboot-vblade": "run/sanboot-vblade", "/etc/xen/xend-config.sxp": "etc/xen/xend-config.sxp"}
OWN_NETNS = "net:[4026531840]"


class TableMismatch(BaseException):
    """The module did something the table does not say (a BaseException: no ``except Exception``
    in a module can swallow it)."""


def _subst(value, tmp):
    if isinstance(value, str):
        return value.replace(TMP, tmp)
    if isinstance(value, list):
        return [_subst(v, tmp) for v in value]
    if isinstance(value, dict):
        return dict((_subst(k, tmp), _subst(v, tmp)) for k, v in value.items())
    return value


def _secrets(value, key=""):
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _secrets(v, str(k))]
    if isinstance(value, list):
        return [s for v in value for s in _secrets(v, key)]
    return [value] if "password" in key and isinstance(value, str) and value else []


def _read_fixture(name, tmp):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read().replace(TMP, tmp)


# ---------------------------------------------------------------- the host under tmp
def _all_module_utils():
    for info in pkgutil.walk_packages(_mu.__path__, _mu.__name__ + "."):
        yield importlib.import_module(info.name)


def _rebased(value, tmp):
    if isinstance(value, str) and value in HOST_PATHS:
        return os.path.join(tmp, HOST_PATHS[value])
    if isinstance(value, tuple) and value and all(isinstance(v, str) and v in HOST_PATHS for v in value):
        return tuple(os.path.join(tmp, HOST_PATHS[v]) for v in value)
    return value


def rebase_host_paths(monkeypatch, tmp, modules):
    """Point the host-path constants and argument defaults of ``modules`` into ``tmp``."""
    for mod in modules:
        for name, obj in list(vars(mod).items()):
            new = _rebased(obj, tmp)
            if new is not obj:
                monkeypatch.setattr(mod, name, new)
            funcs = [obj] if callable(obj) and getattr(obj, "__module__", None) == mod.__name__ else []
            if isinstance(obj, type) and obj.__module__ == mod.__name__:
                funcs = [f for f in vars(obj).values() if callable(f)]
            for f in funcs:
                defaults = getattr(f, "__defaults__", None)
                if defaults:
                    new = tuple(_rebased(d, tmp) for d in defaults)
                    if new != defaults:
                        monkeypatch.setattr(f, "__defaults__", new)


def _make_file(path, spec):
    if spec is None:        # null: not there (overrides a file of a merged anchor)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not isinstance(spec, dict):
        spec = dict(content=spec)
    if spec.get("dir"):
        os.makedirs(path, exist_ok=True)
    elif "symlink" in spec:
        os.symlink(spec["symlink"], path)
    else:
        with open(path, "w") as f:
            f.write(spec.get("content", ""))
            if spec.get("size"):
                f.truncate(spec["size"])
    if "mode" in spec:
        os.chmod(path, _mode(spec["mode"]))


def make_host(tmp, files):
    """The host under ``tmp``: /run/lock, /proc/self (network namespace, mountinfo)."""
    os.makedirs(os.path.join(tmp, "run", "lock"), exist_ok=True)
    if not os.path.lexists(os.path.join(tmp, "proc", "self", "ns", "net")):
        _make_file(os.path.join(tmp, "proc", "self", "ns", "net"), dict(symlink=OWN_NETNS))
    if "proc/self/mountinfo" not in files:
        _make_file(os.path.join(tmp, "proc", "self", "mountinfo"), "")


def add_processes(tmp, procs):
    """``/proc/PID`` of each process: cmdline, stat, and the ns/net, cwd and root links."""
    for pid, p in (procs or {}).items():
        base = os.path.join(tmp, "proc", str(pid))
        argv = p.get("cmdline") or []
        with open(_mkdirs(os.path.join(base, "cmdline")), "wb") as f:
            f.write(b"".join(a.encode() + b"\0" for a in argv))
        comm = os.path.basename(argv[0]) if argv else "?"
        _make_file(os.path.join(base, "stat"), "%s (%s) %s 1 1 1 0 -1\n" % (pid, comm, p.get("state", "S")))
        _make_file(os.path.join(base, "ns", "net"), dict(symlink=p.get("net", OWN_NETNS)))
        _make_file(os.path.join(base, "cwd"), dict(symlink=p.get("cwd", "/")))
        _make_file(os.path.join(base, "root"), dict(symlink=p.get("root", "/")))


def _remove_tree(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _mode(value):
    """A mode from the table: write it quoted ("0600"); YAML 1.1 reads a bare 0600 as octal."""
    return value if isinstance(value, int) else int(value, 8)


def _mkdirs(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def guard_writes(monkeypatch, tmp):
    """Fail the test when the module writes, creates or removes anything outside ``tmp``."""
    allowed = os.path.realpath(tmp) + os.sep

    def check(path, what):
        if isinstance(path, int) or not os.path.isabs(str(path)):
            return          # relative to a directory descriptor the module opened below tmp
        if not (os.path.realpath(os.path.dirname(str(path))) + os.sep).startswith(allowed):
            raise TableMismatch("the module would %s %s, outside the test's directory" % (what, path))

    def wrap(mod, name, test, paths=(0,)):
        real = getattr(mod, name)

        def guarded(*args, **kw):
            if test(args, kw):
                for i in paths:
                    check(args[i] if len(args) > i else kw.get("file", kw.get("path", kw.get("dst"))), name)
            return real(*args, **kw)
        monkeypatch.setattr(mod, name, guarded)

    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    wrap(builtins, "open", lambda a, k: any(c in (a[1] if len(a) > 1 else k.get("mode", "r")) for c in "wax+"))
    wrap(os, "open", lambda a, k: "dir_fd" not in k and (a[1] if len(a) > 1 else k["flags"]) & writing)

    def at_dir(args, kw):
        return not any(key.endswith("dir_fd") for key in kw)
    for name in ("mkdir", "unlink", "remove", "rmdir", "chmod"):
        wrap(os, name, at_dir)
    for name in ("rename", "replace", "link"):
        wrap(os, name, at_dir, (0, 1))
    wrap(os, "symlink", at_dir, (1,))


# ---------------------------------------------------------------- AnsibleModule seams
def _argv_matches(argv, table):
    """``argv`` against the table's command: a ``{re: PATTERN}`` element matches by re.fullmatch
    (for names the module makes up, such as temporary files)."""
    if not isinstance(argv, list) or len(argv) != len(table):
        return argv == table
    return all(re.fullmatch(want["re"], got) if isinstance(want, dict) else got == want
               for got, want in zip(argv, table))


class Commands(object):
    """run_command and get_bin_path of AnsibleModule, answered from the table."""

    def __init__(self, calls, bin_paths, tmp):
        self.calls = [c for entry in calls or [] for c in (entry if isinstance(entry, list) else [entry])]
        self.bin_paths, self.tmp, self.ran = bin_paths or {}, tmp, []

    def run_command(self, module, args, **kw):
        argv = [str(a) for a in args] if isinstance(args, (list, tuple)) else args
        self.ran.append(argv)
        if not self.calls:
            raise TableMismatch("unexpected command #%d: %r (the table has no more)" % (len(self.ran), argv))
        call = self.calls.pop(0)
        if not _argv_matches(argv, call["command"]):
            raise TableMismatch("command #%d:\n  ran   %r\n  table %r" % (len(self.ran), argv, call["command"]))
        env = dict(os.environ, **(kw.get("environ_update") or {}))
        for key, want in (call.get("environ") or {}).items():
            if env.get(key) != want:
                raise TableMismatch("command #%d %r: environment %s=%r, table %r"
                                    % (len(self.ran), argv[0], key, env.get(key), want))
        if "data" in call and kw.get("data") != call["data"]:
            raise TableMismatch("command #%d: stdin %r, table %r" % (len(self.ran), kw.get("data"), call["data"]))
        effects = call.get("effects") or {}
        for rel in effects.get("remove") or []:
            _remove_tree(os.path.join(self.tmp, rel))
        for rel, spec in (effects.get("files") or {}).items():
            _make_file(os.path.join(self.tmp, rel), spec)
        add_processes(self.tmp, effects.get("proc"))
        out = _read_fixture(call["out_fixture"], self.tmp) if "out_fixture" in call else call.get("out", "")
        err = _read_fixture(call["err_fixture"], self.tmp) if "err_fixture" in call else call.get("err", "")
        return call.get("rc", 0), out, err

    def get_bin_path(self, module, arg, required=False, opt_dirs=None):
        path = self.bin_paths.get(arg, "/usr/sbin/" + arg)
        if path is None and required:
            module.fail_json(msg='Failed to find required executable "%s" in paths: /usr/sbin:/usr/bin' % arg)
        return path

    def verify(self):
        if self.calls:
            raise TableMismatch("%d command(s) of the table never ran, first %r"
                                % (len(self.calls), self.calls[0]["command"]))


class Context(object):
    """What a mock hook of a test file gets: ``monkeypatch``, ``tmp`` and ``fixture(name)``."""

    def __init__(self, monkeypatch, tmp):
        self.monkeypatch, self.tmp = monkeypatch, tmp

    def fixture(self, name):
        return _read_fixture(name, self.tmp)


MISSING = object()


class Table(object):
    """The cases of ``test_<module>.yaml`` next to ``test_file``, run against ``module.main``.

    ``mocks``: ``{name: hook}``; a case's ``mocks: {name: spec}`` calls ``hook(spec, context)``,
    which patches what it needs and returns an object whose ``verify()`` runs after main()."""

    def __init__(self, module, test_file, mocks=None, filename=None):
        self.module, self.mocks = module, dict(mocks or {})
        path = filename or re.sub(r"\.py$", ".yaml", test_file)
        with open(path) as f:
            spec = yaml.safe_load(f)
        self.cases = [pytest.param(c, id=c["id"]) for c in spec["test_cases"]]

    def run(self, case, tmp_path, monkeypatch, capsys):
        """Run ``main()`` for one case; return its result dict (checked against the table)."""
        tmp = str(tmp_path)
        case = _subst(case, tmp)
        setup, mocks, flags = case.get("setup") or {}, dict(case.get("mocks") or {}), case.get("flags") or {}
        files = setup.get("files") or {}
        for rel, spec in files.items():
            _make_file(os.path.join(tmp, rel), spec)
        make_host(tmp, files)
        add_processes(tmp, setup.get("proc"))
        rebase_host_paths(monkeypatch, tmp, list(_all_module_utils()) + [self.module])
        interfaces = setup.get("interfaces") or {}
        monkeypatch.setattr(_netif, "flags", interfaces.get)
        commands = Commands(mocks.pop("run_command", []), mocks.pop("bin_paths", {}), tmp)
        monkeypatch.setattr(basic.AnsibleModule, "run_command",
                            lambda self, args, **kw: commands.run_command(self, args, **kw))  # pylint: disable=unnecessary-lambda
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                            lambda self, arg, required=False, opt_dirs=None:  # pylint: disable=unnecessary-lambda
                            commands.get_bin_path(self, arg, required, opt_dirs))
        checks = [commands]
        ctx = Context(monkeypatch, tmp)
        for name, spec in mocks.items():
            if name not in self.mocks:
                raise TableMismatch("mocks.%s: the test file has no such mock" % name)
            checks.append(self.mocks[name](spec, ctx))
        ansible_tmp = os.path.join(tmp, "ansible-tmp")
        os.makedirs(ansible_tmp, exist_ok=True)
        args = dict(case.get("input") or {}, _ansible_check_mode=bool(flags.get("check")),
                    _ansible_diff=bool(flags.get("diff")), _ansible_remote_tmp=ansible_tmp,
                    _ansible_tmpdir=ansible_tmp, _ansible_keep_remote_files=False)
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
        monkeypatch.setattr(ansible_warnings, "_global_warnings", [])
        monkeypatch.setattr(ansible_warnings, "_global_deprecations", [])
        capsys.readouterr()
        with monkeypatch.context() as guard:
            guard_writes(guard, tmp)
            with pytest.raises(SystemExit):
                self.module.main()
        text = capsys.readouterr().out
        result = json.loads(text)
        for check in checks:
            try:
                getattr(check, "verify", lambda: None)()
            except TableMismatch as exc:
                raise TableMismatch("%s\n(result: %r)" % (exc, result))
        for secret in _secrets(case.get("input")):
            assert secret not in text, "a no_log value reached the output"
        result.pop("invocation", None)
        if os.environ.get("TABLE_PRINT"):       # writing a table: pytest -s with TABLE_PRINT=1
            print("\n%s: %s" % (case["id"], json.dumps(result, indent=1).replace(tmp, TMP)))
        self.check_result(case, result, tmp)
        return result

    @staticmethod
    def check_result(case, result, tmp):
        for key, want in (case.get("output") or {}).items():
            got = result.get(key, False if key in ("changed", "failed") else MISSING)
            assert got == want, "output %s:\n  got   %r\n  table %r\n(result: %r)" % (key, got, want, result)
        for key, pattern in (case.get("output_re") or {}).items():
            assert key in result, "output %s missing (result: %r)" % (key, result)
            assert re.search(pattern, str(result[key])), "output %s: %r does not match %r" % (
                key, result[key], pattern)
        for rel, want in (case.get("files") or {}).items():
            path = os.path.join(tmp, rel)
            if want is None:
                assert not glob.glob(path) and not os.path.lexists(path), "%s should not exist" % rel
                continue
            want = want if isinstance(want, dict) else dict(content=want)
            assert os.path.exists(path), "%s was not written" % rel
            if "content" in want:
                with open(path) as f:
                    assert f.read() == want["content"], "content of %s" % rel
            if "mode" in want:
                assert oct(os.stat(path).st_mode & 0o7777) == oct(_mode(want["mode"])), "mode of %s" % rel


# ---------------------------------------------------------------- main() with hand-written seams
class ModuleExit(Exception):
    """Raised by exit_json/fail_json under ``run_main``; ``args[0]`` is the result dict."""


def run_main(monkeypatch, module, args, run_command, bin_path=None):
    """Run ``module.main()`` with ``args`` (the whole ANSIBLE_MODULE_ARGS, ``_ansible_*`` keys
    included) and ``run_command(self, argv, **kw)`` in place of AnsibleModule.run_command;
    ``bin_path(name)``, when given, answers get_bin_path.  Return the result dict of
    exit_json/fail_json, with ``failed`` set to False or True."""
    def exit_json(self, **kw):
        raise ModuleExit(dict(kw, failed=False))

    def fail_json(self, **kw):
        raise ModuleExit(dict(kw, failed=True))

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    if bin_path is not None:
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, n, required=False: bin_path(n))
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(ModuleExit) as e:
        module.main()
    return e.value.args[0]
