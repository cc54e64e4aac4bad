# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of pxe_server (private): its DOCUMENTATION describes each option."""

from __future__ import annotations

ARGUMENT_SPEC = dict(
    config_path=dict(type="path", default="/etc/dnsmasq.d/sanboot-pxe.conf"),
    tftp_root=dict(type="path", default="/srv/tftp"),
    tftp_user=dict(type="str", default="dnsmasq"),
    allowed_networks=dict(type="list", elements="str", required=True),
    networks=dict(type="list", elements="dict", required=True, options=dict(
        interface=dict(type="str", required=True),
        cidr=dict(type="str", required=True),
        range_start=dict(type="str"),
        range_end=dict(type="str"),
        lease_time=dict(type="str", default="1h"),
        router=dict(type="str"),
    )),
    hosts=dict(type="list", elements="dict", default=[], options=dict(
        mac=dict(type="str", required=True),
        ip=dict(type="str", required=True),
        hostname=dict(type="str", required=True),
        boot=dict(type="str"),
        uuid=dict(type="str"),
    )),
    boot_entries=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        type=dict(type="str", required=True, choices=["ipxe_sanboot_iscsi", "ipxe_sanboot_aoe", "kernel"]),
        target=dict(type="str"),
        portal=dict(type="str"),
        port=dict(type="int"),
        lun=dict(type="int"),
        initiator=dict(type="str"),
        chap=dict(type="dict", options=dict(
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            mutual_username=dict(type="str"),
            mutual_password=dict(type="str", no_log=True),
        )),
        shelf=dict(type="int"),
        slot=dict(type="int"),
        kernel=dict(type="str"),
        initrd=dict(type="list", elements="str"),
        cmdline=dict(type="str"),
        loader=dict(type="str", choices=["pxelinux", "ipxe"]),
    )),
    generations=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        files=dict(type="dict", default={}),
    )),
    current_generation=dict(type="str"),
    keep_generations=dict(type="int", default=3),
    ipxe_bootfile=dict(type="str", default="undionly.kpxe"),
    pxelinux_bootfile=dict(type="str", default="pxelinux.0"),
    dns=dict(type="bool", default=False),
    log_dhcp=dict(type="bool", default=False),
)
