#!/usr/bin/env bash
# The README's test command: installs what it needs, checks Generated/ is fresh, starts a throwaway
# PostgreSQL on a private socket and port, runs the whole test suite, and stops the cluster whatever
# happened.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/install-deps.sh
scripts/generate-protos.sh --check
export LEARNING_TEST_PYTHON LEARNING_TEST_PYGEN="$ROOT/.venv/gen"
LEARNING_TEST_PYTHON=$(scripts/python-env.sh)

PGDIR=$(mktemp -d /tmp/learning-test-pg.XXXXXX)
PGPORT=${TEST_PG_PORT:-$(( 20000 + RANDOM % 20000 ))}
VECDIR=$(mktemp -d /tmp/learning-test-pgvector.XXXXXX)
cleanup() {
  scripts/pg-cluster.sh stop "$PGDIR" || true; rm -rf "$PGDIR"
  scripts/pgvector-cluster.sh stop "$VECDIR" >/dev/null 2>&1 || true; rm -rf "$VECDIR"
}
trap cleanup EXIT
export LEARNING_TEST_DATABASE_URL
LEARNING_TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PGPORT")
echo "test database: $LEARNING_TEST_DATABASE_URL"
# Optional peer: a PostgreSQL with pgvector for the embedding-mode comparison (skipped if it cannot start).
if url=$(scripts/pgvector-cluster.sh start "$VECDIR" $((PGPORT + 1)) 2>"$VECDIR.log"); then
  export LEARNING_TEST_PGVECTOR_URL=$url; echo "pgvector database: $url"
else
  echo "no pgvector server ($(tail -1 "$VECDIR.log")): the pgvector test reports itself skipped"
fi
rm -f "$VECDIR.log"

swift build --build-tests
swift test --skip-build
