# shellcheck shell=bash
# The step harness of scripts/test.sh and scripts/container-test.sh (sourced): each step prints
# `==> NAME`, runs, and is recorded with its status and seconds for `summary`.
#   step NAME COMMAND...      runs one step; returns the command's status
#   check NAME COMMAND...     a step that counts as one test case (passed / failed)
#   required NAME COMMAND...  a step the run cannot go on without: on failure, summary and exit 1
#   summary [TITLE]           the table of steps and `summary: N passed, N failed`
# A script may define summary_title: `required` then titles its summary with what it prints.
steps=() passed=0 failed=0
step() {
  local name=$1; shift
  local start=$SECONDS rc
  echo
  echo "==> $name"
  "$@"; rc=$?
  local status=ok
  [ $rc -eq 0 ] || status="FAILED (exit $rc)"
  steps+=("$status|$((SECONDS - start))|$name")
  [ $rc -eq 0 ] || echo "==> $name: FAILED (exit $rc)"
  return $rc
}
check() { if step "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }
summary() {
  echo
  echo "==> summary${1:+ ($1)}"
  local s status secs name
  for s in "${steps[@]}"; do
    IFS='|' read -r status secs name <<<"$s"
    printf '  %-22s %5ss  %s\n' "$status" "$secs" "$name"
  done
  echo "summary: $passed passed, $failed failed"
}
required() {
  step "$@" && return 0
  failed=$((failed + 1))
  summary "$(if declare -F summary_title >/dev/null; then summary_title; fi)"
  exit 1
}
