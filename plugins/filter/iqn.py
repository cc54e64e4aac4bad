# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
name: iqn
short_description: Build an iSCSI qualified name (IQN) from a date, a reversed domain and a suffix
version_added: 0.1.0
description:
  - Returns C(iqn.<yyyy-mm>.<reversed domain>[:<suffix>]) (RFC 3720 section 3.2.6.3.1), validated
    and folded to lower case.
  - Fails on a name that is not valid, for example a dot instead of the dash in C(yyyy-mm), a
    character outside C(a-z 0-9 - . :) (RFC 3722), or more than 223 bytes.
author:
  - sanboot.lab developers (!UNKNOWN)
options:
  _input:
    description:
      - The month in which the naming authority owned the domain, C(yyyy-mm) or C(yyyy-mm-dd)
        (a date object works too).
    type: raw
    required: true
  reversed_domain:
    description: The naming authority's domain, reversed (C(org.example) for C(example.org)).
    type: str
    required: true
  suffix:
    description: The unique id after the colon; omitted when empty.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: iqn.2024-01.lab.sanboot:target1
  ansible.builtin.debug:
    msg: "{{ '2024-01' | sanboot.lab.iqn('lab.sanboot', 'target1') }}"
"""

RETURN = r"""
_value:
  description: The IQN.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import IQNError, build_iqn


def iqn(date, reversed_domain, suffix=""):
    """``date | sanboot.lab.iqn(reversed_domain, suffix)``."""
    try:
        return build_iqn(date, reversed_domain, suffix)
    except IQNError as e:
        raise AnsibleFilterError("sanboot.lab.iqn: %s" % e)


class FilterModule(object):
    def filters(self):
        return {"iqn": iqn}
