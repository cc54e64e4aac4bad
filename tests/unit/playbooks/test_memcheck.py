# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/files/sanboot-memcheck.py: the guest's memory check finds a changed page."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "playbooks", "files", "sanboot-memcheck.py")


def load():
    spec = importlib.util.spec_from_file_location("sanboot_memcheck", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_buffer_detects_a_flipped_byte_and_names_the_page():
    mc = load()
    buf = mc.Buffer(1)
    buf.step(buf.pages + 500)  # fill, then 500 rewrites
    assert buf.filled == buf.pages and buf.rewrites == 500
    assert buf.verify()["ok"]
    buf.mem[5 * mc.PAGE + 100] ^= 0xFF
    out = buf.verify()
    assert not out["ok"] and out["bad_count"] == 1
    assert out["bad"][0]["page"] == 5 and out["bad"][0]["offset"] == 96
    assert out["bad"][0]["found"] != out["bad"][0]["expected"]


def test_serve_and_ask(tmp_path):
    sock = str(tmp_path / "mc.sock")
    proc = subprocess.Popen([sys.executable, SCRIPT, "serve", sock, "2", "60"])
    try:
        for _i in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        ask = [sys.executable, SCRIPT, "ask", sock]
        verdict = json.loads(subprocess.run(ask + ["verify"], capture_output=True, text=True, check=True).stdout)
        assert verdict["ok"] and verdict["pages"] == 512
        assert json.loads(subprocess.run(ask + ["stop"], capture_output=True, text=True, check=True).stdout)["stopped"]
        assert proc.wait(timeout=10) == 0
        assert not os.path.exists(sock) and not os.path.exists(sock + ".pid")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
