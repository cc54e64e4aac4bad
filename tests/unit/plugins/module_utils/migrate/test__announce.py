# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""announce=at_switchover: the NICs of a live domain XML (the helper itself runs against a real
bridge in tests/integration/test_migrate_announce.py)."""

from __future__ import annotations

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._announce import bridge_nics

fixture = fixture_reader("migrate")


LIVE = """<domain><devices>
  <interface type='bridge'><mac address='52:54:00:5b:00:3d'/><source bridge='br0'/>
    <target dev='vnet5'/><model type='virtio'/></interface>
  <interface type='network'><mac address='52:54:00:00:00:02'/>
    <source network='default' portid='0b6c' bridge='virbr0'/><target dev='vnet6'/></interface>
  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>
  <interface type='user'><mac address='52:54:00:00:00:04'/></interface>
  <interface type='direct'><mac address='52:54:00:00:00:03'/><source dev='eth0' mode='bridge'/>
    <target dev='macvtap0'/></interface>
</devices></domain>"""


def test_bridge_nics_of_a_running_domain():
    assert bridge_nics(LIVE) == [("52:54:00:5b:00:3d", "vnet5", "br0"),
                                 ("52:54:00:00:00:02", "vnet6", "virbr0"),
                                 ("52:54:00:00:00:01", None, "br0")]


def test_an_inactive_definition_has_no_taps():
    assert bridge_nics(fixture("libvirt_domain.xml")) == [("52:54:00:5a:10:01", None, "br0")]
