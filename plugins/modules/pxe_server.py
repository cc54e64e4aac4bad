#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: pxe_server
short_description: DHCP and TFTP for network boot with dnsmasq, served only on storage networks
version_added: 0.1.0
description:
  - Writes a dnsmasq configuration file (O(config_path)) and the TFTP tree below O(tftp_root) for
    hosts that boot from the network - C(sanboot) of an iSCSI LUN or an AoE target through iPXE, or a
    kernel and initrd through pxelinux or iPXE - and keeps boot images as generations.
  - "Boot file by client, without a chainload loop: a PXE ROM (no DHCP option 175, no user class
    C(iPXE)) gets O(ipxe_bootfile) or, for a pxelinux host, O(pxelinux_bootfile); iPXE (tag C(ipxe)
    from C(dhcp-match=set:ipxe,175) and C(dhcp-userclass=set:ipxe,iPXE)) gets its host's script
    C(ipxe/HOSTNAME.ipxe). pxelinux reads C(pxelinux.cfg/UUID) then C(pxelinux.cfg/01-MAC)."
  - The rendered configuration is checked with C(dnsmasq --test -C) on a temporary copy before it
    replaces O(config_path). dnsmasq reads C(dhcp-host) lines at start only, so RV(restart_needed)
    tells the caller to restart it (the role's handler does).
  - "Refused before anything changes, naming the option: a network outside O(allowed_networks) or
    whose interface holds no address in it; overlapping networks or DHCP ranges; a range outside
    its network or holding the server's own address; a MAC not of the form C(aa:bb:cc:dd:ee:ff);
    a MAC, IP, host name or UUID reserved twice; a reservation outside every served network; a
    kernel or initrd missing from the TFTP tree; a missing boot loader; a kernel command line with
    a C(*password*=) parameter; a symbolic link below O(tftp_root) that resolves outside it; a system directory as O(tftp_root)."
  - "Secrets: TFTP has no authentication, so an iPXE script holding CHAP credentials (C(set username),
    C(set password); never in the C(iscsi:) URI) can be fetched by any TFTP client that reaches the
    server on a served network. That is why DHCP and TFTP are served only on the storage networks
    (O(allowed_networks)). On this host the script is mode 0600, owned by O(tftp_user), and the
    secrets are kept out of diffs, logs and every file readable by others."
  - "Boot-image generations: each build in its own directory C(images/NAME/) (with C(SHA256SUMS)),
    built under a temporary name and renamed into place, never changed afterwards;
    C(images/current) is a relative symlink switched atomically (rename of a new link over it), so
    a rollback is a new O(current_generation). Generations beyond O(keep_generations) are removed
    oldest first, never the current one nor a listed one."
  - Files are written atomically with their final mode and owner, never through a symbolic link,
    inside O(tftp_root); C(tftp-secure) serves only files owned by O(tftp_user). See docs/netboot.md.
author:
  - sanboot.lab developers (!UNKNOWN)
requirements:
  - dnsmasq (C(dnsmasq --test)) and iproute2 (C(ip -j addr)) on the managed host
attributes:
  check_mode:
    description: Plans and validates everything (including C(dnsmasq --test)); writes nothing.
    support: full
  diff_mode:
    description: Before and after of the dnsmasq file and of every TFTP file, link and generation; secrets redacted.
    support: full
options:
  config_path:
    description: The dnsmasq configuration file written (its directory must exist).
    type: path
    default: /etc/dnsmasq.d/sanboot-pxe.conf
  tftp_root:
    description: The TFTP root (C(tftp-root)); must exist as a directory, not a symbolic link.
    type: path
    default: /srv/tftp
  tftp_user:
    description: The user dnsmasq runs as; it owns every file written below O(tftp_root) (C(tftp-secure)).
    type: str
    default: dnsmasq
  allowed_networks:
    description: IPv4 networks (CIDR) DHCP may be served on - the storage networks; V(0.0.0.0/0) is refused.
    type: list
    elements: str
    required: true
  networks:
    description: Networks served (C(interface=), C(dhcp-range=)).
    type: list
    elements: dict
    required: true
    suboptions:
      interface:
        description: Interface serving the network; it must hold an IPv4 address inside O(networks[].cidr).
        type: str
        required: true
      cidr:
        description: The network, e.g. V(198.51.100.128/25) (host bits must be zero).
        type: str
        required: true
      range_start: {description: First address of the dynamic range; without a range only reservations get leases., type: str}
      range_end: {description: Last address of the dynamic range., type: str}
      lease_time:
        description: dnsmasq lease time, seconds or with C(s), C(m), C(h), C(d), C(w), or V(infinite).
        type: str
        default: 1h
      router: {description: Default gateway offered (option 3); without it none is offered., type: str}
  hosts:
    description: Static reservations (C(dhcp-host=)).
    type: list
    elements: dict
    default: []
    suboptions:
      mac:
        description: MAC address, six colon-separated hex pairs (written lower-case).
        type: str
        required: true
      ip:
        description: The reserved IPv4 address, inside a served network.
        type: str
        required: true
      hostname:
        description: Host name (one RFC 1123 label); names the iPXE script C(ipxe/HOSTNAME.ipxe).
        type: str
        required: true
      boot: {description: Name of the boot entry of this host; without it the host gets a lease only., type: str}
      uuid: {description: SMBIOS UUID; a pxelinux host also gets C(pxelinux.cfg/UUID)., type: str}
  boot_entries:
    description: What a host boots.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name used by O(hosts[].boot).
        type: str
        required: true
      type:
        description: V(ipxe_sanboot_iscsi) (C(sanboot iscsi:PORTAL:6:PORT:LUN:TARGET), RFC 4173, LUN in hex),
          V(ipxe_sanboot_aoe) (C(sanboot aoe:eSHELF.SLOT)) or V(kernel) (through O(boot_entries[].loader)).
        type: str
        required: true
        choices: [ipxe_sanboot_iscsi, ipxe_sanboot_aoe, kernel]
      target: {description: iSCSI target IQN (RFC 3720 section 3.2.6.3)., type: str}
      portal: {description: IPv4 address of the target's portal., type: str}
      port: {description: TCP port of the portal (default 3260)., type: int}
      lun: {description: LUN of the boot disk 0-255 (default 1)., type: int}
      initiator: {description: Initiator IQN iPXE logs in with (C(set initiator-iqn))., type: str}
      chap:
        description: One-way (and mutual) CHAP as iPXE settings; secrets of at least 12 characters (RFC 3720 section 8.2.1), no C($).
        type: dict
        suboptions:
          username: {description: C(set username)., type: str}
          password: {description: C(set password)., type: str}
          mutual_username: {description: C(set reverse-username)., type: str}
          mutual_password: {description: C(set reverse-password)., type: str}
      shelf: {description: AoE shelf (major) 0-65534., type: int}
      slot: {description: AoE slot (minor) 0-254., type: int}
      kernel:
        description: Kernel, relative to O(tftp_root), e.g. V(images/current/vmlinuz).
        type: str
      initrd:
        description: Initrd files, relative to O(tftp_root).
        type: list
        elements: str
      cmdline:
        description: Kernel command line; no quotes, none of C($) C(;) C(|) C(&) C(#) C(<) C(>), and no C(*password*=) parameter.
        type: str
      loader:
        description: V(pxelinux) (default) or V(ipxe) (a PXE ROM chainloads iPXE, which runs the script).
        type: str
        choices: [pxelinux, ipxe]
  generations:
    description: Boot-image builds kept below C(images/); an existing one must match its O(generations[].files).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Generation name (letters, digits, C(_.-)), e.g. a build date.
        type: str
        required: true
      files:
        description: File name in the generation -> absolute path of its source on this host.
        type: dict
        default: {}
  current_generation:
    description: The generation C(images/current) points at; default the last of O(generations).
    type: str
  keep_generations:
    description: How many generations are kept (at least the current and the listed ones).
    type: int
    default: 3
  ipxe_bootfile:
    description: iPXE loader given to PXE ROMs, below O(tftp_root).
    type: str
    default: undionly.kpxe
  pxelinux_bootfile:
    description: pxelinux loader below O(tftp_root) (C(ldlinux.c32) must sit beside it).
    type: str
    default: pxelinux.0
  dns: {description: "Keep dnsmasq's DNS server; by default C(port=0) switches it off.", type: bool, default: false}
  log_dhcp: {description: Log every DHCP exchange (C(log-dhcp))., type: bool, default: false}
seealso:
  - module: sanboot.lab.initramfs_aoe
  - module: sanboot.lab.initramfs_iscsi
"""

EXAMPLES = r"""
- name: Serve two diskless guests on the storage network
  sanboot.lab.pxe_server:
    allowed_networks: [198.51.100.0/24]
    networks:
      - {interface: sanbr0, cidr: 198.51.100.0/24, range_start: 198.51.100.200, range_end: 198.51.100.220}
    hosts:
      - {mac: "52:54:00:00:00:02", ip: 198.51.100.42, hostname: guest2, boot: guest2-iscsi}
      - {mac: "52:54:00:00:00:03", ip: 198.51.100.43, hostname: guest3, boot: guest3-aoe-root}
    boot_entries:
      - name: guest2-iscsi
        type: ipxe_sanboot_iscsi
        target: iqn.2024-01.lab.sanboot:guest2
        portal: 198.51.100.10
        initiator: iqn.2024-01.lab.sanboot:guest2-boot
        chap: {username: guest2, password: "{{ vault_guest2_chap }}"}
      - name: guest3-aoe-root
        type: kernel
        kernel: images/current/vmlinuz
        initrd: [images/current/initrd.img]
        cmdline: root=/dev/etherd/e7.1 aoe_iflist=eth0 ro
    generations:
      - {name: "20261201", files: {vmlinuz: /var/cache/img/vmlinuz, initrd.img: /var/cache/img/initrd.img}}
    current_generation: "20261201"
  register: pxe
  notify: Restart dnsmasq
"""

RETURN = r"""
restart_needed:
  description: The dnsmasq configuration changed (or would); dnsmasq must be restarted.
  returned: always
  type: bool
files:
  description: Paths written, switched or removed (or that would be).
  returned: always
  type: list
  elements: str
current_generation:
  description: The generation C(images/current) points at afterwards (null when none).
  returned: always
  type: str
generations:
  description: Generations present afterwards.
  returned: always
  type: list
  elements: str
pruned:
  description: Generations removed (or that would be).
  returned: always
  type: list
  elements: str
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sanboot.lab.plugins.module_utils.boot import _pxe as px, _pxe_tree as tree
from ansible_collections.sanboot.lab.plugins.module_utils.boot._pxe_args import ARGUMENT_SPEC
from ansible_collections.sanboot.lab.plugins.module_utils.boot._pxe_render import render_dnsmasq
from ansible_collections.sanboot.lab.plugins.module_utils.common._files import UnsafePath, write_atomic
from ansible_collections.sanboot.lab.plugins.module_utils.common._runner import Runner


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    runner = Runner(module)
    try:
        req, warnings = px.normalise(module.params)
        _rc, out, _err = runner([runner.which("ip"), "-j", "-4", "addr", "show"], msg="cannot list the interface addresses")
        px.check_interfaces(req, px.parse_ip_addr(out))
        try:
            user = pwd.getpwnam(req.tftp_user)
        except KeyError:
            raise px.PxeError("tftp_user: no user %s on this host (the dnsmasq package creates it)" % req.tftp_user)
        changes, images, more = tree.plan(req, user.pw_uid, user.pw_gid)
        config = tree.config_change(req, render_dnsmasq(req))
    except px.PxeError as e:
        module.fail_json(msg=str(e))
    for w in warnings + more:
        module.warn(w)
    if config is not None:
        test = os.path.join(module.tmpdir, "sanboot-pxe-test.conf")
        write_atomic(test, config.after, 0o600)
        runner([runner.which("dnsmasq"), "--test", "-C", test],
               msg="dnsmasq --test refused the rendered configuration (nothing was changed)")
    if not module.check_mode:
        try:
            tree.apply(req, changes, user.pw_uid, user.pw_gid)
            if config is not None:
                write_atomic(req.config_path, config.after, 0o644)
        except (OSError, UnsafePath) as e:
            module.fail_json(msg="writing the TFTP tree or %s: %s" % (req.config_path, e), changed=True)
    done = changes + ([config] if config is not None else [])
    result = dict(
        changed=bool(done), restart_needed=config is not None,
        files=[c.rel if c.kind == "config" else os.path.join(req.tftp_root, c.rel) for c in done],
        current_generation=images["current"], generations=images["generations"], pruned=images["pruned"],
    )
    if module._diff:
        result["diff"] = [tree.diff_entry(c, req.tftp_root, req.secrets) for c in done]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
