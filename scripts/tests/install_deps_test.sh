#!/usr/bin/env bash
# Pins how scripts/install-deps.sh behaves on a fresh machine, with stand-ins for dpkg-query,
# apt-get, sudo, id and sleep on PATH (nothing is really installed): it installs exactly the missing
# packages non-interactively, does nothing when all are there, retries a failed apt-get once, fails
# clearly after that, and uses `sudo -n` when not root and without a terminal.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/tests/lib.sh
WORK=$(mktemp -d /tmp/learning-deps-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin"
cat >"$WORK/bin/dpkg-query" <<'SH'
#!/usr/bin/env bash
pkg=${*: -1}
for m in $MISSING; do [ "$m" = "$pkg" ] && { echo -n "unknown ok not-installed"; exit 1; }; done
echo -n "install ok installed"
SH
cat >"$WORK/bin/apt-get" <<'SH'
#!/usr/bin/env bash
echo "apt-get $* DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-}" >>"$LOG"
count=$(cat "$FAILS" 2>/dev/null || echo 0)
if [ "$1" = install ] && [ "$count" -gt 0 ]; then echo $((count - 1)) >"$FAILS"; exit 100; fi
exit 0
SH
cat >"$WORK/bin/sudo" <<'SH'
#!/usr/bin/env bash
echo "sudo $*" >>"$LOG"
[ "$1" = -n ] && shift
exec "$@"
SH
printf '#!/bin/sh\n[ "$1" = -u ] && echo "${FAKE_UID:-0}" && exit 0\nexec /usr/bin/id "$@"\n' >"$WORK/bin/id"
printf '#!/bin/sh\necho "sleep $*" >>"$LOG"\n' >"$WORK/bin/sleep"
chmod +x "$WORK/bin/"*

deps() { # deps NAME [VAR=VALUE...]: runs install-deps.sh with the stand-ins; log in $WORK/NAME.log
  local name=$1; shift
  : >"$WORK/$name.log"
  env PATH="$WORK/bin:$PATH" LOG="$WORK/$name.log" FAILS="$WORK/$name.fails" MISSING="" "$@" \
    bash scripts/install-deps.sh </dev/null >"$WORK/$name.out" 2>&1
}

deps none
expect "nothing is installed when every package is there" test ! -s "$WORK/none.log"

deps two MISSING="curl postgresql"
expect "only the missing packages are installed" \
  grep -q -- "^apt-get install .* postgresql curl DEBIAN_FRONTEND=noninteractive$" "$WORK/two.log"
expect "apt-get update runs first" bash -c "head -1 '$WORK/two.log' | grep -q '^apt-get update'"
expect "the install is non-interactive (-y, DEBIAN_FRONTEND)" grep -q -- "install -y .*DEBIAN_FRONTEND=noninteractive" "$WORK/two.log"
expect "no sudo as root" bash -c "! grep -q '^sudo' '$WORK/two.log'"

echo 1 >"$WORK/retry.fails"
deps retry MISSING=curl; rc=$?
expect "a failed apt-get is retried once and then succeeds" test "$rc" -eq 0 -a "$(grep -c '^apt-get install' "$WORK/retry.log")" -eq 2
echo 2 >"$WORK/fail.fails"
deps fail MISSING=curl; rc=$?
expect "two failures fail the script" test "$rc" -ne 0
expect "... naming what could not be installed" grep -q "could not install: curl" "$WORK/fail.out"

deps user MISSING=curl FAKE_UID=1000
expect "not root and no terminal: sudo -n (fails rather than waits for a password)" \
  grep -q "^sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install" "$WORK/user.log"

finish
