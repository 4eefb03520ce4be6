#!/usr/bin/env bash
# Installs pinned PyPI packages into the project's virtualenv (.venv), once: a stamp file named
# after the package list makes later runs free. Used by python-env.sh, validate-docker.sh and
# lint-shell.sh.
#
#   scripts/venv-install.sh NAME==VERSION...
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: venv-install.sh NAME==VERSION..." >&2; exit 2; }
stamp=".venv/.installed-$(echo "$*" | md5sum | cut -c1-12)"
[ -f "$stamp" ] && exit 0
[ -x .venv/bin/python ] || python3 -m venv .venv >&2
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 .venv/bin/pip install -q "$@" >&2
touch "$stamp"
