#!/usr/bin/env bash
# The README's test command (`make test`; CI runs it through .ci/run on a fresh clone):
#   1. installs the Debian packages it needs (scripts/install-deps.sh)
#   2. checks that Generated/ and the generated Swift match Protos/ (scripts/generate-protos.sh --check)
#   3. prepares the Python test peers (scripts/python-env.sh: grpcio, stubs in .venv/gen)
#   4. lints docker/ (scripts/validate-docker.sh: hadolint and the Compose v2 spec) and the shell
#      scripts (scripts/lint-shell.sh: ShellCheck)
#   5. starts a throwaway PostgreSQL on a private socket and port, a streaming standby of it
#      (scripts/pg-cluster.sh standby: pg_basebackup -R, for the read-replica tests), and, when it
#      can, a second one with pgvector (scripts/pgvector-cluster.sh, an optional peer that never
#      fails the run)
#   6. builds (`swift build --build-tests`) and runs `swift test`
#   7. runs schemathesis against a live learning-server on the throwaway cluster
#      (scripts/contract-test.sh: every operation of the OpenAPI document, response schema, status
#      code and content type conformance, no 5xx), then installs the Python client (pip install
#      ./clients/python) and runs its pytest suite against real learning-server processes
#   8. runs the shell tests of the scripts (scripts/tests/*_test.sh), then every libFuzzer harness of
#      fuzz/ for FUZZ_SECONDS each (scripts/fuzz.sh, default 20 s: HTTP/1.1 parser, gRPC deframer,
#      OTLP decoder, protobuf wire check, REST bodies and gRPC requests end to end through the
#      service's handlers; a crash or a harness without coverage fails the run; FUZZ_SECONDS=0 leaves it out)
#   9. builds the container image and runs it with compose (scripts/container-test.sh: Docker, else
#      podman; about 7 minutes on a fresh 2-core machine, 1 minute when its images and build cache
#      are there: docs/BUILD.md "The container test")
# and stops the cluster whatever happened. Every step is reported in a summary; the last line is
# `summary: N passed, N failed` over all test cases (Swift tests, shell tests and checks), and the
# exit status is non-zero when anything failed.
#
# Exported for the tests: LEARNING_TEST_DATABASE_URL (the throwaway cluster), LEARNING_TEST_STANDBY_URL
# (its hot standby, same databases), LEARNING_TEST_PGVECTOR_URL
# (the pgvector cluster, only when it started), LEARNING_TEST_PYTHON
# (the virtualenv's python) and LEARNING_TEST_PYGEN (the Python stubs generated from Protos/).
# Knobs: TEST_PG_PORT (cluster port, default a free random one), LEARNING_TEST_TIMEOUT (seconds
# for `swift test`, default 2400), SWIFT_TEST_ARGS (extra `swift test` arguments, e.g. --filter X),
# LEARNING_PYTEST_TIMEOUT (seconds for the Python client's tests, default 900),
# SKIP_CONTAINER_TEST=1 (leave out step 9; CI runs it), FUZZ_SECONDS (per fuzz harness, default 20; 0 leaves fuzzing out).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive
RESULTS=$(mktemp -d /tmp/learning-test-results.XXXXXX)
PGDIR="" STANDBYDIR="" VECDIR="" CHILD=""

# step / check / required / summary (scripts/steps.sh)
# shellcheck source=scripts/steps.sh
. scripts/steps.sh

cleanup() {
  if [ -n "$STANDBYDIR" ]; then
    scripts/pg-cluster.sh stop "$STANDBYDIR" || true
    rm -rf "$STANDBYDIR"
  fi
  if [ -n "$PGDIR" ]; then
    scripts/pg-cluster.sh stop "$PGDIR" || true
    rm -rf "$PGDIR"
  fi
  if [ -n "$VECDIR" ]; then
    scripts/pgvector-cluster.sh stop "$VECDIR" >/dev/null 2>&1 || true
    rm -rf "$VECDIR"
  fi
  rm -rf "$RESULTS"
}
trap cleanup EXIT
trap 'echo "interrupted"; [ -z "$CHILD" ] || kill -TERM "$CHILD" 2>/dev/null; exit 130' INT TERM


required "install Debian packages" scripts/install-deps.sh
check "Generated/ and the generated Swift are up to date with Protos/" scripts/generate-protos.sh --check

python_env() { LEARNING_TEST_PYTHON=$(scripts/python-env.sh) && echo "python: $LEARNING_TEST_PYTHON"; }
export LEARNING_TEST_PYTHON="" LEARNING_TEST_PYGEN="$ROOT/.venv/gen"
required "Python test peers (.venv)" python_env

check "docker/ lints clean (hadolint, compose v2 spec)" scripts/validate-docker.sh
check "scripts lint clean (shellcheck)" scripts/lint-shell.sh

start_pg() {
  PGDIR=$(mktemp -d /tmp/learning-test-pg.XXXXXX) || return 1
  local port=${TEST_PG_PORT:-$(scripts/pg-cluster.sh free-port $((20000 + RANDOM % 12000)))}
  LEARNING_TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$PGDIR" "$port") || return 1
  echo "test database: $LEARNING_TEST_DATABASE_URL (socket and data in $PGDIR)"
}
export LEARNING_TEST_DATABASE_URL=""
required "throwaway PostgreSQL" start_pg

# A hot standby of the throwaway cluster, streaming from it (the read-replica tests).
start_standby() {
  STANDBYDIR=$(mktemp -d /tmp/learning-test-standby.XXXXXX) || return 1
  local primary port
  primary=$(scripts/pg-cluster.sh status "$PGDIR") || return 1
  port=$(scripts/pg-cluster.sh free-port $((primary + 1)))
  LEARNING_TEST_STANDBY_URL=$(scripts/pg-cluster.sh standby "$primary" "$STANDBYDIR" "$port") || return 1
  echo "standby: $LEARNING_TEST_STANDBY_URL (streaming from port $primary)"
}
export LEARNING_TEST_STANDBY_URL=""
required "streaming standby of the throwaway PostgreSQL" start_standby

# Optional peer: a PostgreSQL with pgvector (scripts/pgvector-cluster.sh, from a PyPI wheel) for the
# embedding-mode comparison. It never fails the run: without it the pgvector test reports itself skipped.
start_pgvector() {
  if [ ! -x scripts/pgvector-cluster.sh ]; then echo "no scripts/pgvector-cluster.sh"; return 0; fi
  VECDIR=$(mktemp -d /tmp/learning-test-pgvector.XXXXXX) || return 0
  local url port
  port=$(scripts/pg-cluster.sh free-port $((20000 + RANDOM % 12000)))
  if url=$(scripts/pgvector-cluster.sh start "$VECDIR" "$port" 2>"$RESULTS/pgvector.log"); then
    export LEARNING_TEST_PGVECTOR_URL=$url
    echo "pgvector database: $url"
  else
    echo "no pgvector server ($(tail -1 "$RESULTS/pgvector.log")): the pgvector test reports itself skipped"
  fi
}
step "optional PostgreSQL with pgvector" start_pgvector

swift_tests() { # runs `swift test`, then counts its cases from the xUnit reports
  local rc
  # In the background so that an interrupt of this script can stop it (timeout runs it in a
  # process group of its own, out of reach of the terminal's Ctrl-C).
  # shellcheck disable=SC2086
  timeout --kill-after=30 "${LEARNING_TEST_TIMEOUT:-2400}" \
    swift test --skip-build --disable-xctest --xunit-output "$RESULTS/xunit.xml" ${SWIFT_TEST_ARGS:-} \
    > >(tee "$RESULTS/swift-test.log") 2>&1 &
  CHILD=$!
  wait "$CHILD"; rc=$?
  CHILD=""
  wait # for tee to write the last lines
  [ $rc -eq 124 ] && echo "swift test timed out after ${LEARNING_TEST_TIMEOUT:-2400}s"
  local counts
  # The xUnit reports are written when the run ends; after a crash there are none, and the
  # per-test lines of the output are counted instead.
  counts=$(python3 - "$RESULTS" <<'PY'
import glob, re, sys, xml.etree.ElementTree as ET
ok = bad = 0
reports = glob.glob(sys.argv[1] + "/xunit*.xml")
for path in reports:
    for case in ET.parse(path).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            bad += 1
        elif case.find("skipped") is None:
            ok += 1
if not reports:
    for line in open(sys.argv[1] + "/swift-test.log", errors="replace"):
        if re.match(r"^\S+ Test (?!run with).* passed after", line) or re.match(r"^Test Case .* passed", line):
            ok += 1
        elif re.match(r"^\S+ Test (?!run with).* failed after", line) or re.match(r"^Test Case .* failed", line):
            bad += 1
print(ok, bad)
PY
  ) || counts="0 0"
  read -r ok bad <<<"$counts"
  passed=$((passed + ok)); failed=$((failed + bad))
  echo "swift test: $ok passed, $bad failed (exit $rc)"
  # A crash or timeout can leave failures no report shows: count the run itself as one.
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
  return $rc
}

python_client_tests() { # clients/python: installed as a user would, its pytest suite against real servers
  local rc counts
  .venv/bin/pip install -q ./clients/python || return 1
  (cd clients/python && LEARNING_SERVER_BINARY="$ROOT/.build/debug/learning-server" \
    timeout --kill-after=30 "${LEARNING_PYTEST_TIMEOUT:-900}" "$ROOT/.venv/bin/python" -m pytest -q \
    -p no:cacheprovider --junitxml "$RESULTS/pytest.xml" tests)
  rc=$?
  counts=$(python3 - "$RESULTS/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
ok = bad = 0
try:
    for case in ET.parse(sys.argv[1]).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            bad += 1
        elif case.find("skipped") is None:
            ok += 1
except (OSError, ET.ParseError):
    pass
print(ok, bad)
PY
  ) || counts="0 0"
  read -r ok bad <<<"$counts"
  passed=$((passed + ok)); failed=$((failed + bad))
  echo "python client tests: $ok passed, $bad failed (exit $rc)"
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
  return $rc
}

if step "swift build --build-tests" swift build --build-tests; then
  step "swift test" swift_tests
  check "API contract: schemathesis against a live server (scripts/contract-test.sh)" \
    scripts/contract-test.sh "$LEARNING_TEST_DATABASE_URL"
  step "Python client tests (clients/python)" python_client_tests
else
  failed=$((failed + 1))
fi

shell_tests() { # scripts/tests/*_test.sh print "ok - ..." / "not ok - ..." per case
  local t rc=0 log
  for t in scripts/tests/*_test.sh; do
    log="$RESULTS/$(basename "$t").log"
    echo "--- $t"
    bash "$t" 2>&1 | tee "$log"
    local trc=${PIPESTATUS[0]} ok bad
    [ "$trc" -eq 0 ] || rc=1
    ok=$(grep -c '^ok ' "$log") bad=$(grep -c '^not ok ' "$log")
    passed=$((passed + ok)); failed=$((failed + bad))
    # A script that failed without reporting a failing case still fails the run.
    if [ "$trc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
  done
  return $rc
}
step "shell tests (scripts/tests)" shell_tests

# The byte parsers' fuzz harnesses for a bounded time each: a crash found here fails the run.
if [ "${FUZZ_SECONDS:-20}" -gt 0 ]; then
  check "fuzzing, ${FUZZ_SECONDS:-20} s per harness (scripts/fuzz.sh)" scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi

container_test() { # its checks count as cases, read from its own `summary: N passed, N failed`
  local log="$RESULTS/container-test.log" rc ok bad
  scripts/container-test.sh 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  read -r ok bad < <(sed -n 's/^summary: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -1)
  passed=$((passed + ${ok:-0})); failed=$((failed + ${bad:-0}))
  # A run that stopped before its summary (or failed without a failing check) still fails.
  if [ "$rc" -ne 0 ] && [ "${bad:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  return "$rc"
}
if [ "${SKIP_CONTAINER_TEST:-0}" = 1 ]; then
  echo; echo "==> container image: skipped (SKIP_CONTAINER_TEST=1)"
else
  step "container image built and run (scripts/container-test.sh)" container_test
fi

summary
[ "$failed" -eq 0 ]
