# shellcheck shell=bash
# Helpers for the shell tests in scripts/tests: each case prints `ok - NAME` or `not ok - NAME`
# (TAP style), which scripts/test.sh counts; `finish` exits non-zero when any case failed.
T_FAILED=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILED=1; }
# expect NAME COMMAND...: one case that passes when COMMAND succeeds.
expect() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# expect_exit CODE NAME COMMAND...: one case that passes when COMMAND exits with CODE.
expect_exit() {
  local want=$1 name=$2 rc; shift 2
  "$@"; rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$name"; else not_ok "$name (exit $rc, expected $want)"; fi
}
finish() { exit "$T_FAILED"; }
