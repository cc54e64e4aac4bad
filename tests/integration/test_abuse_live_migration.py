# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration abuse table: hosts, domains and URIs that would reach ssh/xl/xm as options or
break a command line are refused by name before any host is asked -- and before libvirt is
loaded (the venv's python has no libvirt-python: a refusal from the option check is the only
way these runs can name the option).  A ProxyCommand that ran would create ``pwned``."""

from __future__ import annotations

import pytest

from _abuse import assert_refused  # noqa: E402  pylint: disable=import-error

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kw, option", [
    ({"destination": "-oProxyCommand=touch PWNED"}, "destination"),
    ({"destination": "-oProxyCommand=touch PWNED", "driver": "xl"}, "destination"),
    ({"source": "-F/dev/null"}, "source"),
    ({"domain": "-h", "driver": "xm"}, "domain"),
    ({"destination": "hv2;touch PWNED", "driver": "xl"}, "destination"),
    ({"destination": "hv2 -oProxyCommand=x"}, "destination"),
    ({"destination": "hv2\n"}, "destination"),
    ({"destination_uri": "qemu+ssh://-oProxyCommand=touch%20PWNED@hv2/system"}, "destination_uri"),
    ({"destination_uri": "qemu+ssh://root@-hv2/system"}, "destination_uri"),
    ({"migrate_uri": "tcp://198.51.100.32 x"}, "migrate_uri"),
    ({"source_uri": "qemu:///system\n"}, "source_uri"),
    ({"ssh_command": ""}, "ssh_command"),
])
def test_live_migration_refuses(tmp_path, kw, option):
    watched = tmp_path / "watched"
    watched.mkdir()
    pwned = str(watched / "pwned")
    args = dict(domain="guest1", source="hv1", destination="hv2")
    args.update({k: v.replace("PWNED", pwned) if isinstance(v, str) else v for k, v in kw.items()})
    assert_refused("live_migration", args, option, tmp_path, watch=dict(paths=[str(watched)]))
