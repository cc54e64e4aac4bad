# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration, the flow every driver shares (private): checks, check mode, migrate, verify,
report.  Nothing touches the guest before every check (``_plan``) has passed; a migration that
fails is followed by a look at where the guest runs.
"""

from __future__ import annotations

import time

from ansible_collections.sanboot.lab.plugins.module_utils.migrate._driver import MigrationError
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import (
    prechecks, tcg_errors, validate,
)


def run(module, driver):
    """The shared flow for ``driver`` (a ``_driver.MigrationDriver``)."""
    p = module.params
    errors = validate(p) + driver.option_errors()
    if errors:
        module.fail_json(msg="; ".join(errors), errors=errors, changed=False)
    try:
        guest, src, dst = driver.gather()
    except MigrationError as exc:
        module.fail_json(msg="precheck failed, guest not touched: %s" % exc, changed=False)
    result = dict(changed=False, domain=p["domain"], source=p["source"],
                  destination=p["destination"], driver=p["driver"])
    if not guest.get("found") and guest.get("on_destination") and src.get("reachable", True):
        result.update(location="destination", msg="domain already runs on the destination")
        module.exit_json(**result)
    errors = prechecks(guest, src, dst, p.get("storage_network"))
    errors += tcg_errors(guest, src, p) + driver.fact_errors(guest, src, dst) \
        if guest.get("found") else []
    if errors:
        module.fail_json(msg="precheck failed, guest not touched: " + "; ".join(errors),
                         errors=errors, location="source" if guest.get("found") else None,
                         **result)
    result.update(changed=True, checks="passed", location="source")
    if module._diff:
        result["diff"] = {"before": "%s runs on %s\n" % (p["domain"], p["source"]),
                          "after": "%s runs on %s\n" % (p["domain"], p["destination"])}
    if module.check_mode:
        module.exit_json(msg="prechecks passed (check mode: not migrated)", **result)
    started = time.time()
    try:
        stats = driver.migrate()
        failure = None
    except MigrationError as exc:
        stats, failure = {}, str(exc)
    wall_ms = int(round((time.time() - started) * 1000))
    where = driver.locate()
    settle = time.time() + 15  # after an abort the destination may still tear its domain down
    while failure is not None and bool(where.get("source")) == bool(where.get("destination")) \
            and time.time() < settle:
        time.sleep(0.5)
        where = driver.locate()
    if failure is None and where.get("destination") and not where.get("source"):
        result.update(location="destination", wall_time_ms=wall_ms,
                      total_time_ms=stats.get("total_time_ms", wall_ms),
                      total_time_from=stats.pop("total_time_from", "hypervisor" if "total_time_ms"
                                                in stats else "wall clock"),
                      downtime_ms=stats.get("downtime_ms"),
                      transferred_bytes=stats.get("transferred_bytes"),
                      stats=stats)
        module.exit_json(**result)
    if where.get("source") and not where.get("destination"):
        location = "source"
        msg = "migration failed; the guest still runs on the source %s" % p["source"]
    else:
        location = "unknown"
        msg = "migration state unclear: running on source=%s, destination=%s" % (
            where.get("source"), where.get("destination"))
    module.fail_json(msg="%s: %s" % (msg, failure or "the guest did not arrive"),
                     location=location, wall_time_ms=wall_ms, changed=location != "source",
                     **dict((k, v) for k, v in result.items() if k not in ("changed",
                                                                           "location")))
