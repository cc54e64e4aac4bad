# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_host's peer ssh trust reads first (issue 13, re-run speed): the read is sorted into
sections, and the key pair, authorized_key and known_hosts modules run only for what is missing
(the expressions of tasks/peer_ssh.yml evaluated with Ansible's templar; the whole path runs in
molecule/libvirt_host, whose transport is ssh)."""

from __future__ import annotations

from _templar import RoleTemplar

ROLE = RoleTemplar("libvirt_host")
TASKS = {t["name"]: t for t in ROLE.yaml("tasks", "peer_ssh.yml")}
HV1 = "ssh-ed25519 AAAAC3hv1 root@hv1 libvirt migrations"
HV2 = "ssh-ed25519 AAAAC3hv2 root@hv2 libvirt migrations"


def state(lines):
    expr = TASKS["Sort what was read"]["ansible.builtin.set_fact"]["__libvirt_host_ssh_state"]
    return ROLE.evaluate(expr, __libvirt_host_ssh_read={"stdout_lines": lines})


def test_a_host_that_trusts_its_peer_already():
    got = state(["--key", "present", "--pub", HV1, "--hostkey", "ssh-ed25519 AAAAhost1 root@hv1",
                 "--authorized", "ssh-ed25519 AAAAadmin admin", 'from="198.51.100.0/25" ' + HV2,
                 "--known", "198.51.100.42 ssh-ed25519 AAAAhost2", "hv2 ssh-ed25519 AAAAhost2", ""])
    assert got == {"key": ["present"], "pub": [HV1], "hostkey": ["ssh-ed25519 AAAAhost1 root@hv1"],
                   "authorized": ["ssh-ed25519 AAAAadmin admin", 'from="198.51.100.0/25" ' + HV2],
                   "known": ["198.51.100.42 ssh-ed25519 AAAAhost2", "hv2 ssh-ed25519 AAAAhost2"]}
    hostvars = {"hv2": {"__libvirt_host_pubkey": HV2, "__libvirt_host_address": "198.51.100.42",
                        "__libvirt_host_hostkey_line": "ssh-ed25519 AAAAhost2"}}
    when = TASKS["Authorise the peers' root keys"]["when"]
    assert not ROLE.evaluate("{{ %s }}" % " and ".join("(%s)" % w for w in when), item="hv2",
                             hostvars=hostvars, __libvirt_host_ssh_state=got)
    loop = TASKS["Trust the peers' host keys (by address and by name)"]["loop"]
    assert ROLE.evaluate(loop, libvirt_host_peers=["hv2"], hostvars=hostvars, __libvirt_host_ssh_state=got) == []


def test_a_fresh_host_needs_everything():
    got = state(["--key", "missing", "--pub", "--hostkey", "ssh-ed25519 AAAAhost1 root@hv1",
                 "--authorized", "--known"])
    assert got["key"] == ["missing"] and got["pub"] == [] and got["authorized"] == []
    hostvars = {"hv2": {"__libvirt_host_pubkey": HV2, "__libvirt_host_address": "198.51.100.42",
                        "__libvirt_host_hostkey_line": "ssh-ed25519 AAAAhost2"}}
    when = TASKS["Authorise the peers' root keys"]["when"]
    assert ROLE.evaluate("{{ %s }}" % " and ".join("(%s)" % w for w in when), item="hv2",
                         hostvars=hostvars, __libvirt_host_ssh_state=got)
    loop = TASKS["Trust the peers' host keys (by address and by name)"]["loop"]
    assert ROLE.evaluate(loop, libvirt_host_peers=["hv2"], hostvars=hostvars,
                         __libvirt_host_ssh_state=got) == [["hv2", "198.51.100.42"], ["hv2", "hv2"]]
    # a changed host key of the peer is written again
    got["known"] = ["198.51.100.42 ssh-ed25519 AAAAold", "hv2 ssh-ed25519 AAAAhost2"]
    assert ROLE.evaluate(loop, libvirt_host_peers=["hv2"], hostvars=hostvars,
                         __libvirt_host_ssh_state=got) == [["hv2", "198.51.100.42"]]
