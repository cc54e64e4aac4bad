# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt driver without libvirt: migration flags and option errors (a fake libvirt)."""

from __future__ import annotations

import threading

from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _libvirt as lv


class _FakeLibvirt(object):
    VIR_MIGRATE_LIVE, VIR_MIGRATE_PEER2PEER = 1, 2
    VIR_MIGRATE_PERSIST_DEST, VIR_MIGRATE_UNDEFINE_SOURCE = 8, 16
    VIR_MIGRATE_TLS = 65536
    VIR_MIGRATE_PARALLEL = 131072
    VIR_MIGRATE_PARAM_URI, VIR_MIGRATE_PARAM_BANDWIDTH = "migrate_uri", "bandwidth"
    VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS = "parallel.connections"

    @staticmethod
    def registerErrorHandler(_handler, _ctx):
        return None

    @staticmethod
    def virEventRegisterDefaultImpl():
        return 0

    @staticmethod
    def virEventRunDefaultImpl():
        threading.Event().wait()


class _Dom(object):
    def isPersistent(self):
        return True


def test_flags_move_or_keep_the_definition():
    base = dict(source_uri=None, destination_uri=None, destination="hv2", live=True,
                peer2peer=True)
    move = lv.LibvirtDriver(None, dict(base, persistent="move"), _FakeLibvirt)
    keep = lv.LibvirtDriver(None, dict(base, persistent="keep"), _FakeLibvirt)
    assert move.flags(_Dom()) == 1 | 2 | 8 | 16
    assert keep.flags(_Dom()) == 1 | 2
    tls = lv.LibvirtDriver(None, dict(base, persistent="keep", tls=True), _FakeLibvirt)
    assert tls.flags(_Dom()) == 1 | 2 | 65536


def test_parallel_connections_flag_and_parameter():
    base = dict(source_uri=None, destination_uri=None, destination="hv2", live=True,
                peer2peer=True, persistent="keep", migrate_uri="tcp://198.51.100.42",
                bandwidth_mbps=None)
    one = lv.LibvirtDriver(None, dict(base, parallel_connections=None), _FakeLibvirt)
    four = lv.LibvirtDriver(None, dict(base, parallel_connections=4), _FakeLibvirt)
    assert one.flags(_Dom()) == 1 | 2 and one.params() == {"migrate_uri": "tcp://198.51.100.42"}
    assert four.flags(_Dom()) == 1 | 2 | 131072
    assert four.params() == {"migrate_uri": "tcp://198.51.100.42", "parallel.connections": 4}
    both = lv.LibvirtDriver(None, dict(base, parallel_connections=2, bandwidth_mbps=1000),
                            _FakeLibvirt)
    assert both.params() == {"migrate_uri": "tcp://198.51.100.42", "bandwidth": 120,
                             "parallel.connections": 2}


def test_announce_needs_a_destination_host():
    base = dict(source_uri=None, destination="hv2", migrate_uri=None, announce="at_switchover")
    far = lv.LibvirtDriver(None, dict(base, destination_uri="qemu+ssh://root@hv2/system"),
                           _FakeLibvirt)
    local = lv.LibvirtDriver(None, dict(base, destination_uri="test:///default"), _FakeLibvirt)
    assert far.option_errors() == []
    assert local.option_errors() == [
        "announce=at_switchover reaches the destination host over ssh: destination_uri "
        "'test:///default' names no host"]
