# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iscsi_probe's main() against test_iscsi_probe.yaml (libiscsi and qemu-io answers captured from
tgtd 1.0.85; ``mocks.urandom`` fixes the write test's random block to one repeated byte)."""

import os

import pytest

from _helper import Table  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.modules import iscsi_probe


def urandom(spec, ctx):
    """``mocks.urandom: "5a"``: os.urandom(n) gives n bytes 0x5a."""
    real = os.urandom
    # only the write test's block (a whole sector or more); short draws (temporary file names)
    # stay random
    ctx.monkeypatch.setattr(os, "urandom", lambda n: bytes.fromhex(spec) * n if n >= 512 else real(n))


TABLE = Table(iscsi_probe, __file__, mocks=dict(urandom=urandom))


@pytest.mark.parametrize("case", TABLE.cases)
def test_main(case, tmp_path, monkeypatch, capsys):
    TABLE.run(case, tmp_path, monkeypatch, capsys)
