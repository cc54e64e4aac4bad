# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The templates behind san_target's publish_image (roles/san_target/vars/main.yml) and the
variables playbooks/guests.yml gives it, evaluated with Ansible's templar on made-up results
(which LUNs are stale, which are in use and why)."""

from __future__ import annotations

import base64
import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
T1, T2 = "iqn.2025-01.lab.sanboot:target1.g1", "iqn.2025-01.lab.sanboot:target1.g2"


def role_vars():
    out = {}
    for name in ("defaults", "vars"):
        with open(os.path.join(ROOT, "roles", "san_target", name, "main.yml")) as f:
            out.update(yaml.safe_load(f))
    return out


def image(name, version, target=None):
    out = dict(name=name, src="/cache/%s.raw" % name, version=version, path="/srv/sanboot/%s-root.img" % name,
               size="2048MiB")
    if target:
        out["target"] = target
    return out


def have(img, stamp):
    r = dict(item=img, changed=False)
    if stamp is not None:
        r["content"] = base64.b64encode(stamp.encode()).decode()
    return r


def tgt_target(name, paths, initiators=()):
    return dict(name=name, luns=[dict(lun=1, path=p) for p in paths],
                sessions=[dict(initiator=i, addresses=["198.51.100.30"]) for i in initiators])


def evaluate(expr, **variables):
    if lookup_loader.get("ansible.builtin.file") is None:
        init_plugin_loader()
    v = role_vars()
    v.update(variables)
    return Templar(loader=DataLoader(), variables=v).template(expr)


IMAGES = [image("g1", "v2", T1), image("g2", "v2", T2), image("g3", "v2")]


@pytest.mark.parametrize("stamps,stale", [
    (["v2", "v2", "v2"], []),
    (["v2\n", " v2", "v2"], []),                          # blanks around a version do not count
    (["v1", None, "v2"], ["g1", "g2"]),                   # changed, never written
])
def test_stale(stamps, stale):
    results = [have(i, s) for i, s in zip(IMAGES, stamps)]
    got = evaluate("{{ __san_target_publish_stale }}", __san_target_publish_have=dict(results=results))
    assert [i["name"] for i in got] == stale


def test_in_use_by_session_on_target_or_path_or_caller():
    results = [have(i, "v1") for i in IMAGES]
    targets = [tgt_target(T1, ["/elsewhere.img"], ["iqn.x:hv1"]),           # g1: its target has a session
               tgt_target("iqn.2025-01.lab.sanboot:other", [IMAGES[2]["path"]], ["iqn.x:c1", "iqn.x:c1"]),  # g3: its path
               tgt_target(T2, [IMAGES[1]["path"]])]                          # g2: no session
    v = dict(__san_target_publish_have=dict(results=results), __san_target_publish_tgt=dict(targets=targets),
             san_target_publish_in_use={"g3": "domain running on hv2", "g9": "not an image here"})
    assert evaluate("{{ __san_target_publish_busy | map(attribute='name') | list }}", **v) == ["g1", "g3"]
    assert evaluate("{{ __san_target_publish_why }}", **v) == (
        "g1: initiator iqn.x:hv1 logged in to %s; g3: initiator iqn.x:c1 logged in to "
        "iqn.2025-01.lab.sanboot:other; domain running on hv2" % T1)


def test_nothing_in_use():
    results = [have(i, "v1") for i in IMAGES]
    v = dict(__san_target_publish_have=dict(results=results), __san_target_publish_tgt=dict(targets=[
        tgt_target(T1, [IMAGES[0]["path"]])]))
    assert evaluate("{{ __san_target_publish_busy }}", **v) == []


def guests_play():
    with open(os.path.join(ROOT, "playbooks", "guests.yml")) as f:
        plays = yaml.safe_load(f)
    play = [p for p in plays if p.get("name") == "Copy the guest images into their LUNs"][0]
    return play, [t for t in play["tasks"] if "ansible.builtin.include_role" in t][0]


def test_guests_play_passes_the_guests_and_their_running_domains(tmp_path):
    play, include = guests_play()
    assert include["ansible.builtin.include_role"] == dict(name="sanboot.lab.san_target", tasks_from="publish_image")
    disk = tmp_path / "guest1.raw"
    (tmp_path / "guest1.raw.stamp").write_text("built 42\n")
    hostvars = dict(guest1=dict(guest_image_result=dict(disk=str(disk)), sanboot_guest_backing_path="/srv/sanboot/guest1-root.img",
                                sanboot_guest_disk_size_mib=2048, sanboot_guest_target=T1))
    domains = dict(results=[dict(item="hv1", stdout_lines=["guest1", "other"]), dict(item="hv2", stdout_lines=["guest1"]),
                            dict(item="hv3", skipped=True)])
    v = dict(include["vars"], __guests_here=["guest1"], hostvars=hostvars, __guests_domains=domains,
             sanboot_guest_force_rebuild=True, playbook_dir="/pb")
    assert evaluate("{{ san_target_publish_images }}", **v) == [dict(
        name="guest1", src=str(disk), version="built 42", path="/srv/sanboot/guest1-root.img", size="2048MiB", target=T1)]
    assert evaluate("{{ san_target_publish_in_use }}", **v) == {"guest1": "domain running on hv1, hv2",
                                                                "other": "domain running on hv1"}
    assert evaluate("{{ san_target_publish_force }}", **v) is True
    assert evaluate("{{ san_target_publish_stop_tasks }}", **v) == "/pb/tasks/guests_stop.yml"
    assert os.path.exists(os.path.join(ROOT, "playbooks", "tasks", "guests_stop.yml"))
    assert "sanboot_guest_force_rebuild=true" in include["vars"]["san_target_publish_force_hint"]
