# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/multipath evaluated with Ansible's templar: multipath.conf rendered from the defaults
and from a request with aliases, the request checks, the maps read from multipathd's JSON (format
0.1 of multipath-tools 0.9.4) and its raw fallback. Where a ``multipath`` binary is installed,
the rendered file is also parsed by ``multipath -t`` as the role's validate step does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from _templar import RoleTemplar  # noqa: E402  pylint: disable=wrong-import-order

ROLE = RoleTemplar("multipath", ansible_managed="Ansible managed")
_yaml, _task, evaluate = ROLE.yaml, ROLE.task, ROLE.evaluate
WWID1, WWID2 = "360000000000000000e00000000010001", "360000000000000000e00000000010002"


def render(**variables):
    with open(os.path.join(ROLE.path, "templates", "multipath.conf.j2"), encoding="utf-8") as f:
        return evaluate(f.read(), **variables)


def test_default_configuration():
    conf = render()
    defaults = conf.split("defaults {\n")[1].split("}")[0]
    assert [line.strip() for line in defaults.splitlines()] == [
        'path_selector "service-time 0"', "path_grouping_policy multibus", "user_friendly_names yes",
        "find_multipaths yes", "polling_interval 5", "no_path_retry 12", "fast_io_fail_tmo 5"]
    assert '\tdevnode "^vd[a-z]+"\n' in conf and '\tdevnode "^sr[0-9]+"\n' in conf and '\tdevnode "^loop[0-9]+"\n' in conf
    assert "multipaths {" not in conf and "dev_loss_tmo" not in conf


def test_aliases_and_options():
    conf = render(multipath_aliases=[{"wwid": WWID1, "alias": "data1"}, {"wwid": WWID2, "alias": "root1"}],
                  multipath_path_selector="round-robin 0", multipath_user_friendly_names=False,
                  multipath_no_path_retry="queue", multipath_fast_io_fail_tmo="off", multipath_dev_loss_tmo=600,
                  multipath_blacklist={"wwid": ["^3600a0b8"]}, multipath_defaults_extra={"failback": "immediate"})
    assert "\tmultipath {\n\t\twwid \"%s\"\n\t\talias \"data1\"\n\t}\n" % WWID1 in conf
    assert 'alias "root1"' in conf and '\twwid "^3600a0b8"\n' in conf and "devnode" not in conf
    for line in ('path_selector "round-robin 0"', "user_friendly_names no", "no_path_retry queue",
                 "fast_io_fail_tmo off", "dev_loss_tmo 600", "failback immediate"):
        assert "\t%s\n" % line in conf


def _errors(**variables):
    task = _task("Check the request")
    v = dict(variables)
    for name in ("__retry", "__fast", "__loss"):
        v[name] = evaluate(task["vars"][name], **variables)
    return [e for e in (evaluate(expr, **v) for expr in task["vars"]["__errors"]) if e]


def test_default_request_passes():
    assert _errors() == []
    assert _errors(multipath_no_path_retry="queue", multipath_fast_io_fail_tmo="off", multipath_dev_loss_tmo="infinity",
                   multipath_aliases=[{"wwid": WWID1, "alias": "data1"}], multipath_path_grouping_policy="failover") == []


@pytest.mark.parametrize("change, word", [
    ({"multipath_path_selector": "round-robin"}, "multipath_path_selector"),
    ({"multipath_path_grouping_policy": "group_by_tpg"}, "multipath_path_grouping_policy"),
    ({"multipath_find_multipaths": True}, "multipath_find_multipaths"),
    ({"multipath_polling_interval": 0}, "multipath_polling_interval"),
    ({"multipath_no_path_retry": 0}, "multipath_no_path_retry"),
    ({"multipath_no_path_retry": "forever"}, "multipath_no_path_retry"),
    ({"multipath_fast_io_fail_tmo": "5s"}, "multipath_fast_io_fail_tmo"),
    ({"multipath_fast_io_fail_tmo": 0}, "iSCSI"),
    ({"multipath_dev_loss_tmo": 5}, "smaller than multipath_dev_loss_tmo"),
    ({"multipath_aliases": [{"wwid": WWID1}]}, "multipath_aliases"),
    ({"multipath_aliases": [{"wwid": WWID1, "alias": "a"}, {"wwid": WWID1, "alias": "b"}]}, "multipath_aliases"),
    ({"multipath_aliases": [{"wwid": WWID1, "alias": "my disk"}]}, "multipath_aliases"),
    ({"multipath_blacklist": {"devnode": ['^"sd']}}, "multipath_blacklist"),
    ({"multipath_blacklist": {"device": []}}, "multipath_blacklist"),
])
def test_bad_request_is_refused(change, word):
    errors = _errors(**change)
    assert len(errors) == 1 and word in errors[0], errors


JSON = {
    "major_version": 0, "minor_version": 1,
    "maps": [{
        "name": "data1", "uuid": WWID1, "sysfs": "dm-0", "failback": "-", "queueing": "12 chk", "paths": 2,
        "write_prot": "rw", "dm_st": "active", "features": "1 queue_if_no_path", "hwhandler": "0", "action": "",
        "path_faults": 0, "vend": "IET", "prod": "VIRTUAL-DISK", "rev": "0001", "switch_grp": 0, "map_loads": 1,
        "total_q_time": 0, "q_timeouts": 0,
        "path_groups": [{"selector": "service-time 0", "pri": 1, "dm_st": "active", "marginal_st": "normal", "group": 1,
                         "paths": [dict(dev=dev, dev_t=dev_t, dm_st="active", dev_st="running", chk_st="ready",
                                        checker="tur", pri=1, host_wwnn="[undef]",
                                        target_wwnn="iqn.2025-01.lab.sanboot:san1.disks", host_wwpn="[undef]",
                                        target_wwpn="[undef]", host_adapter="198.51.100.30", lun_hex="0x0001",
                                        marginal_st="normal")
                                   for dev, dev_t in (("sdb", "8:16"), ("sdc", "8:32"))]}],
    }],
}


def test_maps_from_json():
    got = evaluate("{{ __multipath_maps_from_json }}", __multipath_show_json={"stdout": json.dumps(JSON, indent=3)})
    path = {"dev": "sdb", "dev_t": "8:16", "group": 1, "dm_st": "active", "dev_st": "running", "chk_st": "ready",
            "target": "iqn.2025-01.lab.sanboot:san1.disks"}
    assert got == [{"alias": "data1", "wwid": WWID1, "sysfs": "dm-0", "dm_st": "active", "queueing": "12 chk",
                    "paths": [path, dict(path, dev="sdc", dev_t="8:32")]}]
    assert evaluate("{{ __multipath_maps_from_json }}", __multipath_show_json={"stdout": '{"maps": []}'}) == []


def test_maps_from_raw():
    got = evaluate("{{ __multipath_maps_from_raw }}",
                   __multipath_show_raw={"stdout_lines": ["data1 %s dm-0" % WWID1, "", "mpatha %s dm-1" % WWID2]})
    assert got == [{"alias": "data1", "wwid": WWID1, "sysfs": "dm-0"}, {"alias": "mpatha", "wwid": WWID2, "sysfs": "dm-1"}]


@pytest.mark.skipif(not shutil.which("multipath") or os.geteuid() != 0 or not os.path.exists("/etc/multipath.conf"),
                    reason="needs multipath-tools, root and an /etc/multipath.conf to bind-mount over")
@pytest.mark.parametrize("variables, ok", [
    ({}, True),
    ({"multipath_aliases": [{"wwid": WWID1, "alias": "data1"}], "multipath_no_path_retry": "queue",
      "multipath_fast_io_fail_tmo": "off", "multipath_dev_loss_tmo": "infinity", "multipath_path_selector": "round-robin 0",
      "multipath_blacklist": {"wwid": ["^3600a0b8"], "devnode": ["^vd[a-z]+"]}}, True),
    ({"multipath_defaults_extra": {"bogus_keyword": 1}}, False),
    ({"multipath_defaults_extra": {"no_path_retry": "forever"}}, False),
])
def test_multipath_parses_the_file(tmp_path, variables, ok):
    conf = tmp_path / "multipath.conf"
    conf.write_text(render(**variables), encoding="utf-8")
    command = evaluate("{{ __multipath_validate }}").replace("%s", str(conf))
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode == 0) is ok, proc.stderr
