# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_server's request, renderers and TFTP tree plan (no processes except an optional
``dnsmasq --test``; the TFTP root is a tmp_path)."""

import copy
import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _pxe as px
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _pxe_render as pr
from ansible_collections.sanboot.lab.plugins.module_utils.boot import _pxe_tree as tree
from ansible_collections.sanboot.lab.plugins.module_utils.boot._pxe_args import ARGUMENT_SPEC

SECRET = "s3cret-chap-pw"
UID, GID = os.getuid(), os.getgid()


def _defaults(spec):
    return {k: v.get("default") for k, v in spec.items()}


def params(**kw):
    p = _defaults(ARGUMENT_SPEC)
    p.update(
        allowed_networks=["198.51.100.0/24"],
        networks=[dict(interface="sbpxe0", cidr="198.51.100.128/25", range_start="198.51.100.200",
                       range_end="198.51.100.220", lease_time="1h", router=None)],
        hosts=[dict(mac="02:5B:00:00:10:02", ip="198.51.100.142", hostname="guest2", boot="san", uuid=None),
               dict(mac="02:5b:00:00:10:03", ip="198.51.100.143", hostname="guest3", boot="kern",
                    uuid="12345678-1234-1234-1234-1234567890AB"),
               dict(mac="02:5b:00:00:10:04", ip="198.51.100.144", hostname="guest4", boot="aoe", uuid=None)],
        boot_entries=[
            dict(name="san", type="ipxe_sanboot_iscsi", target="iqn.2024-01.lab.sanboot:guest2",
                 portal="198.51.100.10", lun=1, initiator="iqn.2024-01.lab.sanboot:guest2-boot",
                 chap=dict(username="guest2", password=SECRET)),
            dict(name="kern", type="kernel", kernel="images/current/vmlinuz",
                 initrd=["images/current/initrd.img"], cmdline="root=/dev/etherd/e7.1 ro"),
            dict(name="aoe", type="ipxe_sanboot_aoe", shelf=7, slot=2)],
    )
    p.update(kw)
    return p


def req(**kw):
    return px.normalise(params(**kw))[0]


def with_(path, value, **kw):
    """params() with one nested value replaced: path like ('hosts', 0, 'mac')."""
    p = copy.deepcopy(params(**kw))
    node = p
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return p


# ---- validation: every bad input is refused naming the option ------------------------------

BAD = [
    (("allowed_networks",), [], r"allowed_networks: required"),
    (("allowed_networks",), ["0.0.0.0/0"], r"allowed_networks\[0\]: 0.0.0.0/0 allows every network"),
    (("allowed_networks",), ["198.51.100.5/24"], r"allowed_networks\[0\].*host bits"),
    (("networks", 0, "cidr"), "192.0.2.0/24", r"networks\[0\].cidr: 192.0.2.0/24 is not inside allowed_networks"),
    (("networks", 0, "cidr"), "2001:db8::/64", r"networks\[0\].cidr: .*only IPv4"),
    (("networks", 0, "interface"), "bad/name", r"networks\[0\].interface: .*not a network interface name"),
    (("networks", 0, "range_start"), "198.51.100.20", r"networks\[0\].range_start: 198.51.100.20 is outside"),
    (("networks", 0, "range_end"), "198.51.100.255", r"networks\[0\].range_end: .*broadcast address"),
    (("networks", 0, "range_end"), "198.51.100.150", r"networks\[0\].range_end: .*below range_start"),
    (("networks", 0, "range_end"), None, r"networks\[0\].range_end: range_start and range_end go together"),
    (("networks", 0, "lease_time"), "1 hour", r"networks\[0\].lease_time"),
    (("networks", 0, "router"), "198.51.100.1", r"networks\[0\].router: .*outside"),
    (("hosts", 0, "mac"), "02-5b-00-00-10-02", r"hosts\[0\].mac: .*six pairs of hex digits"),
    (("hosts", 0, "mac"), "025b.0000.1002", r"hosts\[0\].mac"),
    (("hosts", 0, "mac"), "02:5b:00:00:10", r"hosts\[0\].mac"),
    (("hosts", 0, "mac"), "ff:ff:ff:ff:ff:ff", r"hosts\[0\].mac: .*multicast"),
    (("hosts", 1, "mac"), "02:5b:00:00:10:02", r"hosts\[1\].mac: 02:5b:00:00:10:02 is already reserved by hosts\[0\]"),
    (("hosts", 1, "ip"), "198.51.100.142", r"hosts\[1\].ip: 198.51.100.142 is already reserved by hosts\[0\]"),
    (("hosts", 1, "hostname"), "GUEST2", r"hosts\[1\].hostname: guest2 is already reserved"),
    (("hosts", 0, "ip"), "198.51.100.10", r"hosts\[0\].ip: 198.51.100.10 is outside every served network"),
    (("hosts", 0, "ip"), "198.51.100.128", r"hosts\[0\].ip: .*network address"),
    (("hosts", 0, "hostname"), "guest_2", r"hosts\[0\].hostname"),
    (("hosts", 0, "uuid"), "not-a-uuid", r"hosts\[0\].uuid"),
    (("hosts", 0, "boot"), "nope", r"hosts\[0\].boot: 'nope' is not the name of a boot entry"),
    (("boot_entries", 0, "portal"), None, r"boot_entries\[0\].portal: required for type ipxe_sanboot_iscsi"),
    (("boot_entries", 0, "target"), "iqn.2024-13.x:y", r"boot_entries\[0\].target: .*month"),
    (("boot_entries", 0, "lun"), 256, r"boot_entries\[0\].lun: 256: 0-255"),
    (("boot_entries", 0, "port"), 70000, r"boot_entries\[0\].port"),
    (("boot_entries", 0, "port"), 0, r"boot_entries\[0\].port: 0: 1-65535"),
    (("boot_entries", 0, "shelf"), 1, r"boot_entries\[0\].shelf: not an option of type ipxe_sanboot_iscsi"),
    (("boot_entries", 0, "chap"), dict(username="g", password="short"), r"boot_entries\[0\].chap.password: .*at least 12"),
    (("boot_entries", 0, "chap"), dict(username="g", password="has${x}dollar1"), r"boot_entries\[0\].chap.password: '\$'"),
    (("boot_entries", 0, "chap"), dict(username="g", password="with space 1234"), r"boot_entries\[0\].chap.password"),
    (("boot_entries", 1, "kernel"), "/abs/vmlinuz", r"boot_entries\[1\].kernel: .*relative to tftp_root"),
    (("boot_entries", 1, "kernel"), "images/../../etc/shadow", r"boot_entries\[1\].kernel"),
    (("boot_entries", 1, "initrd"), ["a b"], r"boot_entries\[1\].initrd\[0\]"),
    (("boot_entries", 1, "cmdline"), "root=x iscsi_password=abc", r"boot_entries\[1\].cmdline: carries a secret"),
    (("boot_entries", 1, "cmdline"), "ISCSI_IN_PASSWORD=abc", r"boot_entries\[1\].cmdline: carries a secret"),
    (("boot_entries", 1, "cmdline"), "root=x ${evil}", r"boot_entries\[1\].cmdline: control characters, quotes"),
    (("boot_entries", 1, "loader"), "grub", r"boot_entries\[1\].loader"),
    (("boot_entries", 2, "slot"), 255, r"boot_entries\[2\].slot: 255: 0-254"),
    (("boot_entries", 2, "shelf"), 65535, r"boot_entries\[2\].shelf"),
    (("boot_entries", 2, "name"), "san", r"boot_entries\[2\].name: san is listed twice"),
    (("boot_entries", 2, "type"), "http", r"boot_entries\[2\].type"),
    (("tftp_root",), "/", r"tftp_root"),
    (("tftp_root",), "/srv/a,b", r"tftp_root"),
    (("tftp_root",), "/srv/my tftp", r"tftp_root: .*without blanks"),
    (("tftp_root",), "/etc/", r"tftp_root: /etc/ is a system directory"),
    (("config_path",), "relative.conf", r"config_path"),
    (("tftp_user",), "Bad User", r"tftp_user"),
    (("ipxe_bootfile",), "../x", r"ipxe_bootfile"),
    (("keep_generations",), 0, r"keep_generations: 0"),
    (("current_generation",), "current", r"current_generation"),
]


@pytest.mark.parametrize("path,value,msg", BAD, ids=["%s=%r" % (".".join(map(str, b[0])), b[1]) for b in BAD])
def test_bad_input_is_refused_naming_the_option(path, value, msg):
    with pytest.raises(px.PxeError, match=msg):
        px.normalise(with_(path, value))


@pytest.mark.parametrize("extra,msg", [
    (dict(cidr="198.51.100.192/26"), r"networks\[1\].cidr: 198.51.100.192/26 overlaps 198.51.100.128/25"),
    (dict(cidr="198.51.100.0/25", range_start="198.51.100.10", range_end="198.51.100.20"), None),
])
def test_overlapping_networks(extra, msg):
    second = dict(interface="sbpxe1", lease_time="1h", range_start=None, range_end=None, router=None)
    second.update(extra)
    p = params()
    p["networks"].append(second)
    if msg:
        with pytest.raises(px.PxeError, match=msg):
            px.normalise(p)
    else:
        assert len(px.normalise(p)[0].networks) == 2


def test_ranges_of_two_networks_never_overlap():
    # two networks cannot overlap, so their ranges cannot either: the range rule is checked for
    # networks built by hand (a future secondary-address network) through the same code path
    p = params(allowed_networks=["198.51.100.0/24"])
    p["networks"].append(dict(interface="sbpxe1", cidr="198.51.100.0/25", range_start="198.51.100.10",
                              range_end="198.51.100.20", lease_time="1h", router=None))
    assert [str(n["start"]) for n in px.normalise(p)[0].networks] == ["198.51.100.200", "198.51.100.10"]


def test_generations_rules():
    gens = [dict(name=n, files={}) for n in ("a", "b", "c")]
    with pytest.raises(px.PxeError, match=r"keep_generations: 2, but 3 generations"):
        px.normalise(params(generations=gens, keep_generations=2))
    with pytest.raises(px.PxeError, match=r"generations\[1\].name: a is listed twice"):
        px.normalise(params(generations=[dict(name="a", files={}), dict(name="a", files={})]))
    with pytest.raises(px.PxeError, match=r"generations\[0\].files.vmlinuz: 'rel/path'"):
        px.normalise(params(generations=[dict(name="a", files=dict(vmlinuz="rel/path"))]))
    with pytest.raises(px.PxeError, match=r"generations\[0\].files.SHA256SUMS"):
        px.normalise(params(generations=[dict(name="a", files=dict(SHA256SUMS="/x"))]))
    assert px.normalise(params(generations=gens))[0].current == "c"


def test_normalised_request_and_warnings():
    p = params()
    p["boot_entries"].append(dict(name="spare", type="ipxe_sanboot_aoe", shelf=1, slot=1))
    r, warnings = px.normalise(p)
    assert r.hosts[0]["mac"] == "02:5b:00:00:10:02" and r.hosts[1]["uuid"] == "12345678-1234-1234-1234-1234567890ab"
    assert r.secrets == [SECRET]
    assert warnings == ["boot_entries[3] (spare): no host boots it"]


# ---- interfaces -----------------------------------------------------------------------------

IP_JSON = ('[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},'
           '{"ifindex":5,"ifname":"sbpxe0","addr_info":[{"family":"inet","local":"%s","prefixlen":25}]}]')


@pytest.mark.parametrize("address,iface,msg", [
    ("198.51.100.130", "sbpxe0", None),
    ("198.51.100.5", "sbpxe0", r"networks\[0\].interface: sbpxe0 has no IPv4 address in 198.51.100.128/25"),
    ("198.51.100.130", "other0", r"networks\[0\].interface: other0 does not exist"),
    ("198.51.100.210", "sbpxe0", r"networks\[0\].range_start: the range .* holds this server's own address"),
    ("198.51.100.142", "sbpxe0", r"hosts\[0\].ip: 198.51.100.142 is this server's own address"),
])
def test_check_interfaces(address, iface, msg):
    r = req()
    r.networks[0]["interface"] = iface
    addresses = px.parse_ip_addr(IP_JSON % address)
    if msg is None:
        px.check_interfaces(r, addresses)
    else:
        with pytest.raises(px.PxeError, match=msg):
            px.check_interfaces(r, addresses)


# ---- renderers ------------------------------------------------------------------------------

def test_dnsmasq_config():
    text = pr.render_dnsmasq(req(log_dhcp=True))
    lines = text.splitlines()
    for line in ("port=0", "interface=sbpxe0", "bind-dynamic",
                 "dhcp-range=set:sbnet0,198.51.100.200,198.51.100.220,255.255.255.128,1h",
                 "dhcp-option=tag:sbnet0,option:router",
                 "dhcp-host=02:5b:00:00:10:02,set:sbhost-guest2,198.51.100.142,guest2,1h",
                 "dhcp-match=set:ipxe,175", "dhcp-userclass=set:ipxe,iPXE",
                 "dhcp-boot=tag:sbhost-guest2,tag:!ipxe,undionly.kpxe",
                 "dhcp-boot=tag:sbhost-guest2,tag:ipxe,ipxe/guest2.ipxe",
                 "dhcp-boot=tag:sbhost-guest3,pxelinux.0",
                 "enable-tftp", "tftp-root=/srv/tftp", "tftp-secure", "log-dhcp"):
        assert line in lines
    assert SECRET not in text
    # a static-only network with a router, DNS kept
    p = params(dns=True)
    p["networks"][0].update(range_start=None, range_end=None, router="198.51.100.129")
    text = pr.render_dnsmasq(px.normalise(p)[0])
    assert "dhcp-range=set:sbnet0,198.51.100.128,static,255.255.255.128,1h" in text.splitlines()
    assert "dhcp-option=tag:sbnet0,option:router,198.51.100.129" in text.splitlines() and "port=0" not in text


def test_dnsmasq_accepts_the_rendered_config(tmp_path):
    assert shutil.which("dnsmasq"), "dnsmasq not installed (Makefile APT_PACKAGES: dnsmasq-base)"
    conf = tmp_path / "pxe.conf"
    conf.write_text(pr.render_dnsmasq(req(log_dhcp=True)))
    proc = subprocess.run(["dnsmasq", "--test", "-C", str(conf)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_ipxe_scripts_and_pxelinux_files():
    files = {r.rel: r for r in pr.tftp_files(req())}
    assert sorted(files) == ["ipxe/guest2.ipxe", "ipxe/guest4.ipxe", "pxelinux.cfg/01-02-5b-00-00-10-03",
                             "pxelinux.cfg/12345678-1234-1234-1234-1234567890ab"]
    san = files["ipxe/guest2.ipxe"]
    assert san.mode == 0o600 and san.secret
    lines = san.text.splitlines()
    assert lines[0] == "#!ipxe"
    assert "set initiator-iqn iqn.2024-01.lab.sanboot:guest2-boot" in lines
    assert "set username guest2" in lines and "set password %s" % SECRET in lines
    assert lines[-1] == "sanboot iscsi:198.51.100.10:6:3260:1:iqn.2024-01.lab.sanboot:guest2"
    assert not [line for line in lines if line.startswith("sanboot") and SECRET in line]
    assert files["ipxe/guest4.ipxe"].text.splitlines()[-1] == "sanboot aoe:e7.2"
    assert files["ipxe/guest4.ipxe"].mode == 0o644
    pxl = files["pxelinux.cfg/01-02-5b-00-00-10-03"].text
    assert "  KERNEL images/current/vmlinuz\n  INITRD images/current/initrd.img\n  APPEND root=/dev/etherd/e7.1 ro\n" in pxl
    assert files["pxelinux.cfg/12345678-1234-1234-1234-1234567890ab"].text == pxl


def test_ipxe_kernel_script_and_mutual_chap_and_hex_lun():
    p = params()
    p["boot_entries"][1]["loader"] = "ipxe"
    p["boot_entries"][0].update(lun=10, chap=dict(username="g2", password=SECRET, mutual_username="t",
                                                  mutual_password="other-secret-99"))
    r = px.normalise(p)[0]
    files = {x.rel: x for x in pr.tftp_files(r)}
    assert files["ipxe/guest3.ipxe"].text.splitlines()[-3:] == [
        "kernel /images/current/vmlinuz root=/dev/etherd/e7.1 ro", "initrd /images/current/initrd.img", "boot"]
    san = files["ipxe/guest2.ipxe"].text
    assert "set reverse-username t\nset reverse-password other-secret-99\n" in san
    assert "sanboot iscsi:198.51.100.10:6:3260:a:" in san
    assert "dhcp-boot=tag:sbhost-guest3,tag:ipxe,ipxe/guest3.ipxe" in pr.render_dnsmasq(r)
    assert sorted(r.secrets) == sorted([SECRET, "other-secret-99"])


def test_redaction_and_secret_guard():
    text = "set password %s\nset reverse-password old-unknown-secret\n" % SECRET
    out = pr.redact(text, [SECRET])
    assert SECRET not in out and "old-unknown-secret" not in out and out.count(pr.REDACTED) == 2
    leaky = pr.Rendered("pxelinux.cfg/x", "APPEND pw=%s\n" % SECRET, 0o644, what="boot_entries[1]")
    assert "boot_entries[1]: a CHAP secret would be written to pxelinux.cfg/x" in pr.secret_problem([leaky], [SECRET])
    assert pr.secret_problem([pr.Rendered("ipxe/a", SECRET, 0o600)], [SECRET]) is None


# ---- the TFTP tree ----------------------------------------------------------------------------

def make_root(tmp_path, loaders=True):
    root = tmp_path / "tftp"
    root.mkdir()
    if loaders:
        for name in ("undionly.kpxe", "pxelinux.0", "ldlinux.c32"):
            (root / name).write_bytes(b"loader " + name.encode())
    src = tmp_path / "build"
    src.mkdir()
    for gen in ("g1", "g2", "g3", "g4"):
        (src / gen).mkdir()
        (src / gen / "vmlinuz").write_bytes(b"kernel " + gen.encode())
        (src / gen / "initrd.img").write_bytes(b"initrd " + gen.encode())
    return root, src


def gen(src, name):
    return dict(name=name, files={"vmlinuz": str(src / name / "vmlinuz"), "initrd.img": str(src / name / "initrd.img")})


def run(root, **kw):
    r = req(tftp_root=str(root), **kw)
    changes, images, warnings = tree.plan(r, UID, GID)
    tree.apply(r, changes, UID, GID)
    return changes, images, warnings


def test_tree_is_written_then_idempotent(tmp_path):
    root, src = make_root(tmp_path)
    changes, images, warnings = run(root, generations=[gen(src, "g1")])
    assert [(c.kind, c.rel) for c in changes][:2] == [("generation", "images/g1"), ("link", "images/current")]
    assert images == dict(current="g1", generations=["g1"], pruned=[]) and warnings == []
    assert os.readlink(str(root / "images/current")) == "g1"
    assert (root / "images/current/vmlinuz").read_bytes() == b"kernel g1"
    assert "initrd.img" in (root / "images/g1/SHA256SUMS").read_text()
    assert stat.S_IMODE(os.stat(str(root / "ipxe/guest2.ipxe")).st_mode) == 0o600
    assert run(root, generations=[gen(src, "g1")])[0] == []


def test_generations_switch_rollback_and_prune(tmp_path):
    root, src = make_root(tmp_path)
    for i, name in enumerate(("g1", "g2", "g3")):
        run(root, generations=[gen(src, name)], keep_generations=3)
        os.utime(str(root / "images" / name / "SHA256SUMS"), (1000 + i, 1000 + i))
    assert sorted(os.listdir(str(root / "images"))) == ["current", "g1", "g2", "g3"]
    # rollback: one variable, no file of the generation touched
    changes, images, _w = run(root, current_generation="g1")
    assert [(c.kind, c.before, c.after) for c in changes] == [("link", "g3", "g1")]
    # a fourth build with keep 3 prunes the oldest that is neither current (g1) nor listed: g2
    changes, images, _w = run(root, generations=[gen(src, "g4")], current_generation="g1", keep_generations=3)
    assert images == dict(current="g1", generations=["g1", "g3", "g4"], pruned=["g2"])
    assert [c.kind for c in changes] == ["generation", "prune"]
    assert sorted(os.listdir(str(root / "images"))) == ["current", "g1", "g3", "g4"]


def test_generations_are_immutable_and_must_exist(tmp_path):
    root, src = make_root(tmp_path)
    run(root, generations=[gen(src, "g1")])
    (src / "g1" / "vmlinuz").write_bytes(b"rebuilt")
    with pytest.raises(px.PxeError, match=r"generations\[0\].files.vmlinuz: generation g1 already holds a different file"):
        run(root, generations=[gen(src, "g1")])
    with pytest.raises(px.PxeError, match=r"current_generation: g9 is neither listed"):
        run(root, current_generation="g9")
    with pytest.raises(px.PxeError, match=r"generations\[0\].files: generation g5 is not under"):
        run(root, generations=[dict(name="g5", files={})])
    with pytest.raises(px.PxeError, match=r"generations\[0\].files.vmlinuz: /nonexistent is not a readable"):
        run(root, generations=[dict(name="g5", files={"vmlinuz": "/nonexistent"})])


def test_missing_kernel_initrd_and_loaders_are_refused(tmp_path):
    root, src = make_root(tmp_path)
    with pytest.raises(px.PxeError, match=r"boot_entries\[1\].kernel: images/current/vmlinuz does not exist"):
        run(root)
    g = gen(src, "g1")
    del g["files"]["initrd.img"]
    with pytest.raises(px.PxeError, match=r"boot_entries\[1\].initrd\[0\]: images/current/initrd.img does not exist"):
        run(root, generations=[g])
    (tmp_path / "two").mkdir()
    root2, src2 = make_root(tmp_path / "two", loaders=False)
    with pytest.raises(px.PxeError, match=r"hosts\[\d\] .* ldlinux.c32 is missing from tftp_root"):
        run(root2, generations=[gen(src2, "g1")])


def test_links_out_of_the_root_are_refused(tmp_path):
    root, src = make_root(tmp_path)
    (tmp_path / "outside").write_text("secret")
    os.symlink(str(tmp_path / "outside"), str(root / "escape"))
    with pytest.raises(px.PxeError, match=r"tftp_root: .*escape is a symbolic link to .*outside"):
        run(root, generations=[gen(src, "g1")])
    os.unlink(str(root / "escape"))
    os.symlink("../outside", str(root / "rel-escape"))
    with pytest.raises(px.PxeError, match=r"rel-escape is a symbolic link"):
        run(root, generations=[gen(src, "g1")])
    os.unlink(str(root / "rel-escape"))
    os.symlink(str(tmp_path), str(root / "ipxe"))       # a managed directory replaced by a link
    with pytest.raises(px.PxeError):
        run(root, generations=[gen(src, "g1")])


def test_stale_managed_files_are_removed_and_diffs_redacted(tmp_path):
    root, src = make_root(tmp_path)
    run(root, generations=[gen(src, "g1")])
    (root / "ipxe" / "mine.txt").write_text("not managed\n")
    p = params(tftp_root=str(root), generations=[gen(src, "g1")])
    p["hosts"] = p["hosts"][1:]
    r = px.normalise(p)[0]
    changes, _images, _w = tree.plan(r, UID, GID)
    assert [(c.kind, c.rel) for c in changes] == [("remove", "ipxe/guest2.ipxe")]
    diff = tree.diff_entry(changes[0], str(root), r.secrets)
    assert SECRET not in diff["before"] and pr.REDACTED in diff["before"] and diff["after"] == ""
    tree.apply(r, changes, UID, GID)
    assert sorted(os.listdir(str(root / "ipxe"))) == ["guest4.ipxe", "mine.txt"]


def test_config_change(tmp_path):
    r = req(config_path=str(tmp_path / "pxe.conf"))
    text = pr.render_dnsmasq(r)
    change = tree.config_change(r, text)
    assert change.before is None and change.after == text
    (tmp_path / "pxe.conf").write_text(text)
    os.chmod(str(tmp_path / "pxe.conf"), 0o644)
    assert tree.config_change(r, text) is None
    with pytest.raises(px.PxeError, match=r"config_path: .*is dnsmasq installed"):
        tree.config_change(req(config_path=str(tmp_path / "no" / "pxe.conf")), text)
