#!/usr/bin/env bash
# make's SHELL for `python -m bench make_test` (make ... SHELL=bench/_make_shell.sh): runs each
# recipe line with bash and make's .SHELLFLAGS, as make itself would, and appends one line
# "start end status base64(command)" (seconds since the epoch) to $SANBOOT_BENCH_MAKE_LOG.
start=$(date +%s.%N)
status=0
/bin/bash "$@" || status=$?
if [ -n "${SANBOOT_BENCH_MAKE_LOG:-}" ]; then
  printf '%s %s %s %s\n' "$start" "$(date +%s.%N)" "$status" \
    "$(printf '%s' "${*: -1}" | base64 -w0)" >> "$SANBOOT_BENCH_MAKE_LOG"
fi
exit "$status"
