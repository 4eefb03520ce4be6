#!/usr/bin/env bash
# Pins that scripts/validate-docker.sh passes on docker/ as committed and fails on each kind of
# finding: a hadolint finding, a compose file the Compose v2 spec rejects, a compose warning, and a
# compose file that drifts from the guide. Works on copies, never on the tree itself.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/tests/lib.sh
WORK=$(mktemp -d /tmp/learning-docker-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fresh_copy() {
  rm -rf "$WORK/repo" && mkdir -p "$WORK/repo" && cp -r docker scripts "$WORK/repo/"
  ln -s "$(pwd)/.venv" "$WORK/repo/.venv" # the tools are installed once, in the project's .venv
}
validate() { (cd "$WORK/repo" && scripts/validate-docker.sh >"$WORK/out" 2>&1); }
compose="$WORK/repo/docker/docker-compose.yml"

scripts/validate-docker.sh >/dev/null 2>&1 # installs the tools when needed
fresh_copy
expect_exit 0 "docker/ as committed passes" validate

fresh_copy
sed -i 's|^FROM ${RUNTIME_IMAGE}|FROM debian|' "$WORK/repo/docker/Dockerfile"
expect_exit 1 "an untagged base image (hadolint DL3006) fails" validate

fresh_copy
sed -i 's|^ARG RUNTIME_IMAGE=.*|ARG RUNTIME_IMAGE=localhost/learning-standin/debian:bookworm-slim|' "$WORK/repo/docker/Dockerfile"
expect_exit 1 "a base image default other than the official image fails" validate
expect "... naming the argument" grep -q "RUNTIME_IMAGE" "$WORK/out"

fresh_copy
sed -i 's|FROM ${BASE_IMAGE}|FROM debian|' "$WORK/repo/docker/standin/postgres.Dockerfile"
expect_exit 1 "a hadolint finding in a stand-in's Dockerfile fails" validate

fresh_copy
sed -i 's|^USER 10001:10001|USER learning|' "$WORK/repo/docker/Dockerfile"
expect_exit 1 "an info-level hadolint finding (DL3066) fails too" validate

fresh_copy
sed -i 's|^    container_name: claude-learning|    container_name: claude-learning\n    bogus_key: 1|' "$compose"
expect_exit 1 "a key the Compose v2 spec does not allow fails" validate
expect "... naming the key" grep -q "bogus_key" "$WORK/out"

fresh_copy
sed -i 's|^      LEARNING_LOG_LEVEL: .*|      LEARNING_LOG_LEVEL: ${UNSET_VARIABLE_FOR_TEST}|' "$compose"
expect_exit 1 "a compose warning (an unset variable) fails" validate

fresh_copy
sed -i 's|container_name: claude-postgres|container_name: other-postgres|' "$compose"
expect_exit 1 "a container name other than the guide's fails" validate

fresh_copy
sed -i '/^      ANOMALY_DETECTION_ENABLED:/d' "$compose"
expect_exit 1 "a missing guide variable (ANOMALY_DETECTION_ENABLED) fails" validate
expect "... naming the variable" grep -q "ANOMALY_DETECTION_ENABLED" "$WORK/out"

fresh_copy
sed -i 's|condition: service_healthy|condition: service_started|' "$compose"
expect_exit 1 "starting the service before PostgreSQL is healthy fails" validate

finish
