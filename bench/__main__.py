# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m bench`` runs every benchmark in turn; ``python -m bench NAME [ARGS]`` runs one.

A failing benchmark is reported and the next one still runs; the exit status is 1 if any failed.
Run as root from the repository root with the venv's bin on PATH (``make bench`` does both).
"""

from __future__ import annotations

import importlib
import sys
import traceback

from bench import BENCHMARKS


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("benchmarks: %s" % ", ".join(BENCHMARKS))
        return 0
    if argv:
        if argv[0] not in BENCHMARKS:
            print("unknown benchmark %r; choose from: %s" % (argv[0], ", ".join(BENCHMARKS)),
                  file=sys.stderr)
            return 2
        return importlib.import_module("bench.%s" % argv[0]).main(argv[1:]) or 0
    failed = []
    for name in BENCHMARKS:
        try:
            importlib.import_module("bench.%s" % name).main([])
        except Exception:  # pylint: disable=broad-exception-caught
            traceback.print_exc()
            print("benchmark %s FAILED\n" % name, file=sys.stderr)
            failed.append(name)
    if failed:
        print("failed: %s" % ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
