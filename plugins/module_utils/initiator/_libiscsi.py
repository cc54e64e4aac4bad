# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Userspace iSCSI initiator checks with libiscsi's tools and qemu-io (private).

The parsers read the output of libiscsi 1.19 (``iscsi-ls``, ``iscsi-inq``,
``iscsi-readcapacity16``, ``iscsi-test-cu -x``) and of qemu-io 7.2 (``read -v``); the unit
tests use outputs captured from a real tgtd 1.0.85.  :class:`Prober` runs the tools through
the collection's :class:`Runner`.  CHAP secrets never go on a command line: libiscsi reads
them from ``LIBISCSI_CHAP_USERNAME``/``LIBISCSI_CHAP_PASSWORD`` and qemu-io from a 0600
secret file (``--object secret,file=...``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import xml.etree.ElementTree as ET

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import RequestError, SanbootError
from ansible_collections.sanboot.lab.plugins.module_utils.common._files import write_new

DEFAULT_PORT = 3260

# libiscsi prints the Login Response status as "Status: Authentication failure(513)".
_STATUS_RE = re.compile(r"Status: ([^\n()]+?)\((\d+)\)")
_LUN_RE = re.compile(r"^Lun:(\d+)\s+Type:(\S+)(?:\s+\(Size:([^)]*)\))?")
_TARGET_RE = re.compile(r"^Target:(\S+) Portal:(\S+),(\d+)$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{8}:  ((?:[0-9a-fA-F]{2} ){1,16})")
_WROTE_RE = re.compile(r"^wrote (\d+)/(\d+) bytes at offset (\d+)", re.M)


class LoginRefused(SanbootError):
    """The target answered the login with a status of class 0x02 (RFC 3720 §10.13.5)."""

    def __init__(self, status, reason, text):
        super(LoginRefused, self).__init__("%s(%d)" % (reason, status))
        self.status = status
        self.reason = reason
        self.text = text


def split_portal(portal):
    """``"ADDR[:PORT]"`` (IPv6 in brackets) -> ``(addr, port)``; ValueError when malformed."""
    text = (portal or "").strip()
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("portal %r: expected [IPV6]:PORT" % portal)
        port = rest[1:] or str(DEFAULT_PORT)
    elif text.count(":") > 1:
        raise ValueError("portal %r: write an IPv6 address in brackets, e.g. [2001:db8::1]:3260" % portal)
    else:
        addr, sep, port = text.partition(":")
        port = port or str(DEFAULT_PORT)
    if not addr or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("portal %r: expected ADDR[:PORT] with a port in 1..65535" % portal)
    return addr, int(port)


_HOSTNAME = re.compile(r"^(?=.{1,253}\Z)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?\Z")


def check_address(addr):
    """ValueError unless ``addr`` is an IP address or a DNS host name: anything else (``/``,
    ``@``, ``?``, blanks, a leading ``-``) would change the iscsi:// URL or a command line."""
    try:
        ipaddress.ip_address(addr)
        return addr
    except ValueError:
        pass
    if not _HOSTNAME.match(addr) or addr.startswith("-"):
        raise ValueError("%r is neither an IP address nor a host name" % addr)
    return addr


def check_request(params, validate_iqn):
    """The options of ``iscsi_probe`` -> warnings; RequestError (a ValueError) naming the option
    otherwise."""
    warnings = []
    try:
        if re.search(r"[\s\x00-\x1f\x7f]", params["portal"] or ""):
            raise ValueError("%r contains blanks or control characters" % params["portal"])
        check_address(split_portal(params["portal"])[0])
    except ValueError as exc:
        raise RequestError("portal: %s" % exc, option="portal")
    for key in ("target", "initiator_name"):
        params[key], warns = validate_iqn(params[key], key)
        warnings.extend(warns)
    if not 0 <= params["lun"] <= 16383:
        raise RequestError("lun: %d is out of range 0..16383 (SAM flat addressing)" % params["lun"], option="lun")
    for key in ("username", "password"):
        value = (params.get("chap") or {}).get(key)
        if params.get("chap") is not None and (not value or re.search(r"[\x00-\x1f\x7f]", value)):
            raise RequestError("chap.%s: must be a non-empty line without control characters" % key,
                               option="chap.%s" % key)
    if params["write_length"] <= 0:
        raise RequestError("write_length: %d must be positive" % params["write_length"], option="write_length")
    if not 0 < params["timeout"] <= 3600:
        raise RequestError("timeout: %d must be 1-3600 seconds" % params["timeout"], option="timeout")
    if params["write_offset"] is not None and params["write_offset"] < 0:
        raise RequestError("write_offset: must be >= 0", option="write_offset")
    return warnings


def portal_str(addr, port):
    return "[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port)


def iscsi_url(addr, port, target=None, lun=None):
    """libiscsi URL without credentials (those go through the environment)."""
    url = "iscsi://%s" % portal_str(addr, port)
    if target is not None:
        url += "/%s/%d" % (target, lun)
    return url


def login_failure(text):
    """Classify libiscsi/qemu-io error text.

    Returns None when the text has no login status, else ``dict(status, reason, refused)``;
    ``refused`` is true for the Initiator Error class 0x02xx of RFC 3720 §10.13.5
    (authentication failure 0x0201, authorization failure 0x0202, not found 0x0203, ...): the
    target was reached and said no.  tgt answers "Target not found" to an initiator its ACL does
    not admit.  Class 0x03 (target error) and transport errors are not refusals.
    """
    match = _STATUS_RE.search(text or "")
    if not match:
        return None
    status = int(match.group(2))
    return dict(status=status, reason=match.group(1).strip(), refused=(status >> 8) == 0x02)


def parse_discovery(text):
    """``iscsi-ls [-s]`` output -> ``[{target, portal, tpgt, luns: [{lun, type, size}]}]``."""
    targets = []
    for line in (text or "").splitlines():
        line = line.strip()
        match = _TARGET_RE.match(line)
        if match:
            targets.append(dict(target=match.group(1), portal=match.group(2),
                                tpgt=int(match.group(3)), luns=[]))
            continue
        match = _LUN_RE.match(line)
        if match and targets:
            targets[-1]["luns"].append(dict(lun=int(match.group(1)), type=match.group(2),
                                            size=match.group(3)))
    return targets


def _fields(text):
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in out:
            out[key.strip()] = value
    return out


def parse_inquiry(text):
    """``iscsi-inq`` standard INQUIRY output -> ``dict(vendor, product, revision, device_type)``."""
    fields = _fields(text)
    if "Vendor" not in fields:
        raise ValueError("no Vendor line in iscsi-inq output")
    return dict(vendor=fields["Vendor"].strip(), product=fields.get("Product", "").strip(),
                revision=fields.get("Revision", "").strip(),
                device_type=fields.get("Peripheral Device Type", "").strip())


def parse_readcapacity16(text):
    """``iscsi-readcapacity16`` output -> ``dict(last_lba, block_size, size_bytes)`` (bytes)."""
    fields = _fields(text)
    try:
        last_lba = int(fields["RETURNED LOGICAL BLOCK ADDRESS"])
        block_size = int(fields["LOGICAL BLOCK LENGTH IN BYTES"])
    except (KeyError, ValueError):
        raise ValueError("no READ CAPACITY(16) data in iscsi-readcapacity16 output")
    size = (last_lba + 1) * block_size
    total = fields.get("Total size")
    if total is not None and int(total) != size:
        raise ValueError("iscsi-readcapacity16: Total size %s != (LBA+1)*block %d" % (total, size))
    return dict(last_lba=last_lba, block_size=block_size, size_bytes=size)


def parse_hexdump(text):
    """qemu-io ``read -v`` dump -> bytes (all dump lines, in order)."""
    data = bytearray()
    for line in (text or "").splitlines():
        match = _HEX_RE.match(line)
        if match:
            data.extend(bytearray.fromhex(match.group(1)))
    return bytes(data)


def wrote_bytes(text):
    """qemu-io ``write`` output -> number of bytes it reports written (0 when none)."""
    return sum(int(m.group(1)) for m in _WROTE_RE.finditer(text or ""))


def _qemu_escape(value):
    # QemuOpts: a comma inside a value is written twice.
    return str(value).replace(",", ",,")


def image_opts(addr, port, target, lun, initiator_name, username=None, secret_id=None):
    """qemu ``--image-opts`` string for the iscsi block driver (QEMU 7.2 option names)."""
    opts = [("driver", "iscsi"), ("transport", "tcp"), ("portal", portal_str(addr, port)),
            ("target", target), ("lun", lun), ("initiator-name", initiator_name)]
    if username:
        opts += [("user", username), ("password-secret", secret_id)]
    return ",".join("%s=%s" % (k, _qemu_escape(v)) for k, v in opts)


def parse_cunit_results(xml_text):
    """CUnit ``CUnitAutomated-Results.xml`` -> ``dict(total, run, failed=[Suite.Test ...])``."""
    root = ET.fromstring(xml_text)
    failed = set()
    for suite in root.iter():
        if suite.tag not in ("CUNIT_RUN_SUITE_SUCCESS", "CUNIT_RUN_SUITE_FAILURE"):
            continue
        name = (suite.findtext("SUITE_NAME") or "").strip()
        for record in suite.iter("CUNIT_RUN_TEST_FAILURE"):
            failed.add("%s.%s" % (name, (record.findtext("TEST_NAME") or "").strip()))
    total = run = None
    for record in root.iter("CUNIT_RUN_SUMMARY_RECORD"):
        if (record.findtext("TYPE") or "").strip() == "Test Cases":
            total = int(record.findtext("TOTAL").strip())
            run = int(record.findtext("RUN").strip())
    return dict(total=total, run=run, failed=sorted(failed))


def parse_known_failures(text):
    """A known-failures list: one ``Suite.Test`` a line, ``#`` comments -> sorted list."""
    names = set()
    for line in (text or "").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return sorted(names)


@contextlib.contextmanager
def _chap_environment(chap):
    """Export CHAP for libiscsi (its URL parser falls back to these variables)."""
    keys = ("LIBISCSI_CHAP_USERNAME", "LIBISCSI_CHAP_PASSWORD")
    saved = dict((k, os.environ.get(k)) for k in keys)
    if chap:
        os.environ[keys[0]] = chap["username"]
        os.environ[keys[1]] = chap["password"]
    else:
        for k in keys:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _private_file(directory, data):
    return write_new(directory, "iscsi_probe.", data, 0o600)


class Prober(object):
    """Runs the checks for one LUN as one initiator; failures go through ``runner.fail``.

    A login the target refuses raises :class:`LoginRefused`; every other failure (no answer,
    bad LUN, timeout) fails the module with cmd/rc/stdout/stderr.
    """

    def __init__(self, runner, portal, target, lun, initiator_name, chap=None, tmpdir=None,
                 timeout=60):
        self.runner = runner
        self.addr, self.port = split_portal(portal)
        self.target = target
        self.lun = lun
        self.initiator_name = initiator_name
        self.chap = chap if chap and chap.get("username") else None
        self.tmpdir = tmpdir
        self.timeout = timeout

    def _run(self, argv, what):
        argv = ["timeout", str(self.timeout)] + list(argv)
        with _chap_environment(self.chap):
            rc, out, err = self.runner(argv, check=False)
        if rc == 0:
            return out
        failure = login_failure(out + "\n" + err)
        if failure and failure["refused"]:
            raise LoginRefused(failure["status"], failure["reason"], (out + err).strip())
        msg = "%s failed" % what
        if rc == 124:
            msg += " (no answer within %s s)" % self.timeout
        elif failure:
            msg += ": login status %s(%d)" % (failure["reason"], failure["status"])
        self.runner.fail(msg, argv, rc, out, err)

    def discover(self):
        """SendTargets discovery as this initiator -> target names (tgt hides ACL'd ones)."""
        out = self._run(["iscsi-ls", "-i", self.initiator_name, iscsi_url(self.addr, self.port)],
                        "discovery (iscsi-ls)")
        return [t["target"] for t in parse_discovery(out)]

    def _lun_url(self):
        return iscsi_url(self.addr, self.port, self.target, self.lun)

    def inquiry(self):
        out = self._run(["iscsi-inq", "-i", self.initiator_name, self._lun_url()], "login + INQUIRY (iscsi-inq)")
        return parse_inquiry(out)

    def capacity(self):
        out = self._run(["iscsi-readcapacity16", "-i", self.initiator_name, self._lun_url()],
                        "READ CAPACITY(16) (iscsi-readcapacity16)")
        return parse_readcapacity16(out)

    # ---- qemu-io round trip ---------------------------------------------------------------
    def _qemu_io(self, commands, what):
        argv = ["qemu-io"]
        secret = None
        if self.chap:
            secret = _private_file(self.tmpdir, self.chap["password"].encode("utf-8"))
            argv += ["--object", "secret,id=sec0,file=%s" % _qemu_escape(secret)]
        argv += ["--image-opts", image_opts(self.addr, self.port, self.target, self.lun,
                                            self.initiator_name,
                                            self.chap and self.chap["username"], "sec0")]
        for command in commands:
            argv += ["-c", command]
        try:
            return self._run(argv, what)
        finally:
            if secret:
                os.unlink(secret)

    def _read(self, offset, length, what):
        data = parse_hexdump(self._qemu_io(["read -v %d %d" % (offset, length)], what))
        if len(data) != length:
            self.runner.fail("%s: qemu-io returned %d of %d bytes" % (what, len(data), length),
                             ["qemu-io"], 1, "", "")
        return data

    def write_test(self, offset, length=4096):
        """Write a random block at ``offset`` in one session, read it back in another, restore.

        Returns ``dict(verified, restored)``.  The LUN's data are the same afterwards unless
        another initiator writes the same block meanwhile.
        """
        original = self._read(offset, length, "qemu-io read of the original block")
        pattern = os.urandom(length)
        while pattern == original:
            pattern = os.urandom(length)
        saved = _private_file(self.tmpdir, original)
        pattern_file = _private_file(self.tmpdir, pattern)
        try:
            out = self._qemu_io(["write -s %s %d %d" % (pattern_file, offset, length)],
                                "qemu-io write")
            written = wrote_bytes(out)
            back = parse_hexdump(self._qemu_io(
                ["read -v %d %d" % (offset, length), "write -s %s %d %d" % (saved, offset, length)],
                "qemu-io read-back and restore"))
            restored = self._read(offset, length, "qemu-io read after restore") == original
        finally:
            os.unlink(saved)
            os.unlink(pattern_file)
        return dict(verified=written == length and back == pattern, restored=restored)
