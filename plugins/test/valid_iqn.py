# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
name: valid_iqn
short_description: Whether a string is a valid iSCSI name (iqn., eui. or naa.)
version_added: 0.1.0
description:
  - True for names after RFC 3720 section 3.2.6.3 (C(iqn.yyyy-mm.<reversed domain>[:<id>]),
    C(eui.) + 16 hex digits) and RFC 3980 (C(naa.) + 16 or 32 hex digits), at most 223 bytes, made
    of C(a-z 0-9 - . :) (RFC 3722; upper case counts as valid because it folds to lower case).
author:
  - sanboot.lab developers (!UNKNOWN)
options:
  _input:
    description: The name to test.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: A dot instead of the dash in yyyy-mm is not valid
  ansible.builtin.assert:
    that:
      - "'iqn.2008-06.biz.frode:storage' is sanboot.lab.valid_iqn"
      - "'iqn.2008.06.biz.frode:storage.vmware' is not sanboot.lab.valid_iqn"
"""

RETURN = r"""
_value:
  description: Whether the name is valid.
  type: bool
"""

from ansible_collections.sanboot.lab.plugins.module_utils.common._iqn import is_valid


def valid_iqn(value):
    """``name is sanboot.lab.valid_iqn``."""
    return is_valid(value)


class TestModule(object):
    def tests(self):
        return {"valid_iqn": valid_iqn}
