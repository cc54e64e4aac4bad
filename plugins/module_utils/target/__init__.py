# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iSCSI targets (private): the validated request (``_spec``), tgt (``_tgt_show`` reads,
``_tgt`` plans, ``_tgt_conf`` persists, ``_tgt_run`` applies) and ietd; later LIO.  The modules'
runs: ``_module`` (iscsi_target: spec, provider dispatch) and ``_tgt_info`` (iscsi_target_info).

May import from ``common`` only.
"""
