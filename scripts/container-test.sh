#!/usr/bin/env bash
# The container image, built and run for real (`make container-test`):
#   1. picks an engine: Docker when its daemon answers, else podman (installed from Debian's
#      packages when missing, run with the runc runtime and no default ulimits: see docs/BUILD.md)
#   2. base images: pulls the official ones (swift:6.3-bookworm, debian:bookworm-slim,
#      pgvector/pgvector:pg16); where a pull fails (no registry reachable) it builds local
#      stand-ins: a bookworm image from debootstrap, a Swift build image from it plus this
#      machine's Swift toolchain (docker/standin/swift.Dockerfile) and a PostgreSQL image from
#      Debian's postgresql package (docker/standin/postgres.Dockerfile: no pgvector, so the
#      service's real[] embeddings are exercised); stand-ins already built are reused
#   3. the Swift packages: resolves Package.swift on the host and puts its Package.resolved into
#      docker/vendor, so the image gets the host's versions; where github.com cannot be reached
#      (these machines resolve it through a local mirror), also bare clones of exactly the pinned
#      packages, from the host's git, which the build's git takes in place of GitHub
#      (docker/vendor/README.md); docker/vendor is emptied again at the end
#   4. builds docker/Dockerfile, naming the base images by build argument, and checks that the
#      packages it resolved are the host's
#   5. starts docker/docker-compose.yml (project learning-ctest) on free loopback ports and checks
#      what docs/BUILD.md "Docker" lists: health, the guide's curl commands, the guide's in-container
#      commands through exec (`learning ...`, `learning db-check`), non-root, no build tools, image
#      size, stop within 10 s with an orderly shutdown, data and model kept over down/up, a
#      database that starts after the service, a database restart under a running service with
#      no acknowledged write lost
# and removes every container, network and volume it made, whatever happened (the images stay:
# they are the cache of the next run). Ends with `summary: N passed, N failed`; exits non-zero on
# any failure.
#
# Knobs: CONTAINER_ENGINE (docker|podman), CT_HTTP_PORT / CT_PG_PORT (host ports; default the first
# free from 19180 / 19181), CT_FRESH=1 (remove the stand-ins and the image first: a cold run),
# SWIFT_TOOLCHAIN (the folder holding usr/bin/swift for the stand-in; default from `swift` on PATH),
# CT_VENDOR (1: bare clones of the packages into docker/vendor always, 0: never; default: when
# github.com cannot be reached).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
export DEBIAN_FRONTEND=noninteractive
PROJECT=learning-ctest
COMPOSE_FILE=docker/docker-compose.yml
APP=claude-learning PG=claude-postgres
IMAGE=localhost/learning-system:latest
STANDIN=localhost/learning-standin
WORK=$(mktemp -d /tmp/learning-ctest.XXXXXX)
STARTED=0 WRITER=""
VENDOR=docker/vendor VENDORED=()
RUN_START=$SECONDS

# shellcheck source=scripts/steps.sh
. "$(dirname "$0")/steps.sh"
# The summary's title: the engine and the whole run's seconds (`required` failing prints it too).
summary_title() { echo "$ENGINE; $((SECONDS - RUN_START)) s in all"; }
fail() { echo "FAIL: $*" >&2; return 1; }

# --- engine -------------------------------------------------------------------------------------
ENGINE=${CONTAINER_ENGINE:-}
if [ -z "$ENGINE" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
COMPOSE=()
engine() { "$ENGINE" "$@"; }
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }

setup_engine() {
  case $ENGINE in
    docker)
      docker info >/dev/null || return 1
      COMPOSE=(docker compose)
      docker compose version || return 1 ;;
    podman)
      local pkgs=(podman runc golang-github-containernetworking-plugin-dnsname podman-compose debootstrap) missing=() p
      for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
      done
      if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        local sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo -n)
        "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
          || return 1
      fi
      # runc (crun fails on hybrid cgroups), and no default ulimits (raising RLIMIT_NOFILE/NPROC
      # past the limits of the machine's own sandbox fails). A file of this run's, so the
      # machine's containers.conf is left alone.
      printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$WORK/containers.conf"
      export CONTAINERS_CONF=$WORK/containers.conf
      COMPOSE=(podman-compose)
      podman --version && podman info --format 'runtime {{.Host.OCIRuntime.Name}}, network {{.Host.NetworkBackend}}, cgroups {{.Host.CgroupsVersion}}' ;;
    *) fail "CONTAINER_ENGINE must be docker or podman, not $ENGINE" ;;
  esac
}

# Podman runs health checks from systemd timers; where systemd is not running (a container, a
# sandbox) nothing runs them, so this script runs the container's own check, as the timer would.
manual_health() { [ "$ENGINE" = podman ] && [ ! -d /run/systemd/system ]; }
health() { engine inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null; }
wait_healthy() { # wait_healthy SECONDS NAME...
  local limit=$1 name status deadline=$((SECONDS + $1)); shift
  for name in "$@"; do
    while :; do
      manual_health && podman healthcheck run "$name" >/dev/null 2>&1
      status=$(health "$name")
      [ "$status" = healthy ] && { echo "$name: healthy after $((SECONDS - deadline + limit)) s"; break; }
      [ $SECONDS -lt "$deadline" ] || { fail "$name is ${status:-not running} after $limit s"; engine logs --tail 30 "$name"; return 1; }
      sleep 1
    done
  done
}

# --- base images ----------------------------------------------------------------------------------
# twice COMMAND...: the steps that download (debootstrap, apt-get in RUN) try again once, since a
# mirror can fail for a moment; output goes where the caller sends it.
twice() { "$@" && return 0; echo "failed; trying again in 10 s"; sleep 10; "$@"; }
# Fully qualified: podman matches a short name against local images by their last path component,
# and would take a local image for the official one.
SWIFT_IMAGE=docker.io/library/swift:6.3-bookworm RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
POSTGRES_IMAGE=docker.io/pgvector/pgvector:pg16
have_image() { # exactly this name (docker lists docker.io images without the registry)
  local name=$1
  [ "$ENGINE" = docker ] && name=${name#docker.io/} && name=${name#library/}
  # grep reads the whole list (-q would stop at the first match, and pipefail would see podman's SIGPIPE)
  engine images --format '{{.Repository}}:{{.Tag}}' | grep -xF "$name" >/dev/null
}
pull() { have_image "$1" || timeout 600 "$ENGINE" pull "$1"; }

slim() { # slim ROOTFS: what makes the official image "slim", so its sizes compare
  local root=$1
  # It deletes and rewrites files under ROOTFS: never the machine's own root.
  case $(realpath -m "$root") in
    / | "") fail "slim: refusing to work on '$root'"; return 1 ;;
  esac
  [ -f "$root/etc/debian_version" ] || { fail "slim: $root is not a Debian root file system"; return 1; }
  # apt keeps no package caches or downloaded packages (the official image's docker-clean) ...
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  # ... and dpkg installs no documentation, manual pages or translations (the slim variant).
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* "$root"/usr/share/lintian/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
}

standin_debian() { # a bookworm root file system from Debian's archive (the mirror apt uses), imported
  local image=$STANDIN/bookworm-slim:debootstrap
  if have_image "$image"; then echo "reusing $image"; RUNTIME_IMAGE=$image; return 0; fi
  command -v debootstrap >/dev/null || { fail "debootstrap is not installed"; return 1; }
  local mirror
  mirror=$(sed -n 's/^URIs: *//p; s/^deb \(http[^ ]*\) bookworm .*/\1/p' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
           | grep -m1 '/debian/\?$')
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "debootstrap bookworm from $mirror"
  bootstrap() { rm -rf "$WORK/rootfs"; debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror"; }
  twice bootstrap >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; return 1; }
  slim "$WORK/rootfs"
  tar -C "$WORK/rootfs" -c . | engine import - "$image" >/dev/null || return 1
  rm -rf "$WORK/rootfs"
  RUNTIME_IMAGE=$image
}
standin_swift() {
  local image=$STANDIN/swift-toolchain:6.3-bookworm toolchain=${SWIFT_TOOLCHAIN:-}
  if have_image "$image"; then echo "reusing $image"; SWIFT_IMAGE=$image; return 0; fi
  if [ -z "$toolchain" ]; then
    toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")") || return 1
  fi
  [ -x "$toolchain/usr/bin/swift" ] || { fail "no Swift toolchain at $toolchain (set SWIFT_TOOLCHAIN)"; return 1; }
  echo "Swift toolchain from $toolchain: $("$toolchain/usr/bin/swift" --version 2>/dev/null | head -1)"
  twice engine build "${BUILD_NETWORK[@]}" -f "$ROOT/docker/standin/swift.Dockerfile" --build-arg "BASE_IMAGE=$RUNTIME_IMAGE" \
    -t "$image" "$toolchain" >"$WORK/standin-swift.log" 2>&1 || { tail -30 "$WORK/standin-swift.log"; return 1; }
  SWIFT_IMAGE=$image
}
standin_postgres() {
  local image=$STANDIN/postgresql-debian:15
  if have_image "$image"; then echo "reusing $image"; POSTGRES_IMAGE=$image; return 0; fi
  twice engine build "${BUILD_NETWORK[@]}" -f docker/standin/postgres.Dockerfile --build-arg "BASE_IMAGE=$RUNTIME_IMAGE" \
    -t "$image" docker/standin >"$WORK/standin-postgres.log" 2>&1 || { tail -30 "$WORK/standin-postgres.log"; return 1; }
  POSTGRES_IMAGE=$image
}
base_images() {
  if pull "$RUNTIME_IMAGE" >"$WORK/pull.log" 2>&1; then echo "pulled $RUNTIME_IMAGE"
  else echo "cannot pull $RUNTIME_IMAGE ($(tail -1 "$WORK/pull.log")): building a stand-in"; standin_debian || return 1; fi
  if pull "$SWIFT_IMAGE" >"$WORK/pull.log" 2>&1; then echo "pulled $SWIFT_IMAGE"
  else echo "cannot pull $SWIFT_IMAGE: building a stand-in"; standin_swift || return 1; fi
  if pull "$POSTGRES_IMAGE" >"$WORK/pull.log" 2>&1; then echo "pulled $POSTGRES_IMAGE"
  else echo "cannot pull $POSTGRES_IMAGE: building a stand-in"; standin_postgres || return 1; fi
  echo "build image $SWIFT_IMAGE, run-time image $RUNTIME_IMAGE, database image $POSTGRES_IMAGE"
}

fresh() { # CT_FRESH=1: start cold, as on a new machine
  local image
  for image in "$IMAGE" "$STANDIN/swift-toolchain:6.3-bookworm" "$STANDIN/postgresql-debian:15" "$STANDIN/bookworm-slim:debootstrap"; do
    if have_image "$image"; then engine rmi -f "$image" >/dev/null && echo "removed $image"; fi
  done
  # The build folder's cache mount (docker/Dockerfile), so the Swift build starts from nothing.
  if [ "$ENGINE" = podman ]; then rm -rf /var/tmp/buildah-cache/learning-system-swift-build; else docker builder prune -af >/dev/null; fi
  engine image prune -f >/dev/null
}

# --- Swift packages -------------------------------------------------------------------------------
# The pins of Package.resolved, one `identity location version revision` line each (none without it).
pins() {
  [ -f "$1" ] || return 0
  python3 -c '
import json, sys
for p in json.load(open(sys.argv[1])).get("pins", []):
    s = p.get("state", {})
    print(p["identity"], p["location"], s.get("version") or s.get("branch") or "-", s.get("revision", "-"))' "$1"
}
# Reachable without the host's URL rewrites (a mirror in /etc/gitconfig answers for github.com here).
github_reachable() {
  GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 \
    timeout 30 git ls-remote "$1" HEAD >"$WORK/ls-remote.log" 2>&1
}
# The dependency lines of `swift package show-dependencies` (NAME<URL@VERSION>), sorted. A name
# and a version are required: the build's log also holds diagnostics that link to documentation
# as <https://...>, which are no packages.
dependency_lines() { grep -o '[A-Za-z0-9._-]\+<[a-z+]*://[^>@]*@[^>]*>' | sort -u; }
HOST_DEPENDENCIES=""

vendor_packages() { # docker/vendor: the host's Package.resolved, and bare clones where GitHub is out of reach
  local name
  while read -r name; do # a killed run's leftovers
    rm -rf "$name" && echo "removed a stale $name"
  done < <(find "$VENDOR" -mindepth 1 -maxdepth 1 ! -name README.md ! -name .gitignore)
  if ! command -v swift >/dev/null; then
    [ "${CT_VENDOR:-}" != 1 ] || { fail "CT_VENDOR=1 needs swift on PATH, to resolve Package.swift"; return 1; }
    echo "no swift on PATH: the build resolves Package.swift itself, from GitHub, without the host's pins"
    return 0
  fi
  swift package resolve >"$WORK/resolve.log" 2>&1 || { tail -20 "$WORK/resolve.log"; return 1; }
  HOST_DEPENDENCIES=$(swift package show-dependencies 2>/dev/null | dependency_lines)
  if [ ! -f Package.resolved ]; then echo "no Swift package dependencies: nothing to pin"; return 0; fi
  local identity location version revision
  echo "the host's pins (Package.resolved):"
  pins Package.resolved | while read -r identity location version revision; do echo "  $identity $version ($revision) from $location"; done
  VENDORED+=("$VENDOR/Package.resolved")
  cp Package.resolved "$VENDOR/Package.resolved" || return 1

  local clone=${CT_VENDOR:-} first
  first=$(pins Package.resolved | awk '{print $2; exit}')
  if [ -z "$clone" ]; then
    if github_reachable "$first"; then clone=0; echo "$first answers: the build fetches the packages from GitHub"
    else clone=1; echo "$first cannot be reached ($(tail -1 "$WORK/ls-remote.log")): the packages go into $VENDOR"; fi
  fi
  [ "$clone" = 1 ] || return 0
  local path source
  while read -r identity location version revision; do
    case $location in
      https://github.com/*/*) path=${location#https://github.com/} ;;
      *) fail "$identity: $location is not on github.com; only GitHub packages can be vendored"; return 1 ;;
    esac
    path=${path%/}; path=${path%.git}
    # Where the host's git fetches it from, after its url.*.insteadOf rewrites (here a local mirror).
    source=$(git ls-remote --get-url "$location")
    VENDORED+=("$VENDOR/${path%%/*}")
    git clone --quiet --bare "$source" "$VENDOR/$path.git" || { fail "git clone --bare $source"; return 1; }
    git -C "$VENDOR/$path.git" cat-file -e "$revision^{commit}" \
      || { fail "$source has no commit $revision ($identity $version)"; return 1; }
    echo "$VENDOR/$path.git: $identity $version, from $source"
  done < <(pins Package.resolved)
  # The same times on every run: buildah's cache of the COPY step then holds across runs.
  find "${VENDORED[@]}" -exec touch -h -d @0 {} + && touch -d @0 "$VENDOR"
}

build_image() {
  local log=$WORK/build.log start=$SECONDS
  twice engine build "${BUILD_NETWORK[@]}" -f docker/Dockerfile \
    --build-arg "BUILD_IMAGE=$SWIFT_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" -t "$IMAGE" . >"$log" 2>&1 \
    || { tail -40 "$log"; return 1; }
  grep -E '^Swift packages from /vendor|^\[[0-9]+/[0-9]+\] (Linking|Compiling)' "$log" | tail -3
  echo "image built in $((SECONDS - start)) s"
  # The packages the build resolved (its show-dependencies) against the host's.
  local built
  built=$(dependency_lines <"$log")
  if [ -z "$built" ]; then
    if [ -n "$HOST_DEPENDENCIES" ]; then
      echo "the package step came from the build cache, made from this same docker/vendor/Package.resolved"
    fi
    return 0
  fi
  echo "resolved in the build: $(tr '\n' ' ' <<<"$built")"
  if [ -n "$HOST_DEPENDENCIES" ] && [ "$built" != "$HOST_DEPENDENCIES" ]; then
    fail "the build resolved other packages than the host: $(tr '\n' ' ' <<<"$HOST_DEPENDENCIES")"; return 1
  fi
  [ -z "$HOST_DEPENDENCIES" ] || echo "the same as on the host"
}

# --- the stack ------------------------------------------------------------------------------------
free_port() { scripts/pg-cluster.sh free-port "$1"; }
export LEARNING_HOST_PORT POSTGRES_HOST_PORT POSTGRES_IMAGE
export POSTGRES_PASSWORD=ctest-password
BASE=""

up() {
  local name
  for name in "$APP" "$PG"; do
    if engine container inspect "$name" >/dev/null 2>&1; then
      fail "a container named $name exists already (not this run's): remove it first"; return 1
    fi
  done
  LEARNING_HOST_PORT=${CT_HTTP_PORT:-$(free_port 19180)} || return 1
  POSTGRES_HOST_PORT=${CT_PG_PORT:-$(free_port $((LEARNING_HOST_PORT + 1)))} || return 1
  BASE=http://127.0.0.1:$LEARNING_HOST_PORT
  STARTED=1
  compose up -d --no-build >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; return 1; }
  echo "service on $BASE, PostgreSQL on 127.0.0.1:$POSTGRES_HOST_PORT ($POSTGRES_IMAGE)"
  wait_healthy 180 "$PG" "$APP"
}

cleanup() {
  [ -z "$WRITER" ] || kill "$WRITER" 2>/dev/null
  if [ "$STARTED" = 1 ]; then
    echo
    echo "==> cleanup: compose down -v (containers, network, volume of project $PROJECT)"
    compose down -v >"$WORK/down.log" 2>&1 || cat "$WORK/down.log"
    local name
    for name in "$APP" "$PG"; do # left by a failed down: only ours (the compose project's label)
      if [ "$(engine container inspect --format '{{index .Config.Labels "com.docker.compose.project"}}' "$name" 2>/dev/null)" = "$PROJECT" ]; then
        engine rm -f "$name" >/dev/null 2>&1
      fi
    done
    engine volume rm -f "${PROJECT}_postgres-data" >/dev/null 2>&1
    engine network rm "${PROJECT}_default" >/dev/null 2>&1
  fi
  [ ${#VENDORED[@]} -eq 0 ] || rm -rf "${VENDORED[@]}"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# One run at a time on a machine: the guide's container names (claude-learning, claude-postgres)
# are fixed, so a second run (another worktree's `make test`) waits for the first.
exec 9>/tmp/learning-container-test.lock
if ! flock -n 9; then
  echo "another container test is running on this machine: waiting for it (at most 30 min)"
  flock -w 1800 9 || { echo "gave up waiting for the other container test" >&2; exit 1; }
fi

# --- checks ---------------------------------------------------------------------------------------
get() { curl -fsS --max-time 10 "$BASE$1"; }
json_field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(v.get(sys.argv[1]) if isinstance(v, dict) else "")' "$1"; }

guide_curls() { # the guide's "Quick integration" and "ML model issues", through the published port
  local body
  # The guide's deployment has its 71 agent definitions and a history; this stack has neither:
  # register director and log one execution of it first.
  curl -fsS --max-time 10 -X POST "$BASE/agents/register" -H 'Content-Type: application/json' \
    -d '{"name": "director", "description": "Strategic planning and delegation", "tools": ["Read", "Task"], "model": "opus"}' \
    >/dev/null || return 1
  [[ $(post_execution "$(uuid)" strategic_planning) == 2* ]] || { fail "POST /executions failed"; return 1; }
  body=$(get /health) || return 1; echo "/health: $body"
  [ "$(json_field status <<<"$body")" = healthy ] || { fail "/health is not healthy"; return 1; }
  [ "$(json_field database <<<"$body")" = connected ] || { fail "/health: database not connected"; return 1; }
  [ "$(json_field service <<<"$body")" = learning-system ] || { fail "/health: service is not learning-system"; return 1; }
  body=$(get /status) || return 1; echo "/status: ${body:0:200}"
  get /api/docs >"$WORK/docs.html" || return 1; echo "/api/docs: $(wc -c <"$WORK/docs.html") bytes"
  body=$(get /agents/list) || return 1; echo "/agents/list: ${body:0:160}"
  body=$(get /agents/director/status) || return 1; echo "/agents/director/status: ${body:0:160}"
  body=$(get /ml/test/patterns) || return 1; echo "/ml/test/patterns: ${body:0:160}"
  body=$(curl -fsS --max-time 10 -X POST "$BASE/ml/test/prediction" -H 'Content-Type: application/json' \
         -d '{"agent": "director", "task": "strategic_planning"}') || return 1
  echo "/ml/test/prediction: ${body:0:200}"
}

in_app() { engine exec "$APP" "$@"; }
exec_commands() { # the guide's in-container commands, as the image answers them (docs/BUILD.md)
  local out rc
  in_app learning health || return 1
  out=$(in_app learning db-check) || { fail "learning db-check: $out"; return 1; }
  echo "$out"
  grep -q '^Database connection successful: claude_user@postgres:5432/claude_auth' <<<"$out" || return 1
  grep -q 'agents.execution_log present' <<<"$out" || return 1
  in_app learning agents list || return 1
  in_app learning agents status director || return 1
  in_app learning log --agent director --task-type strategic_planning --time 42.5 --success || return 1
  in_app learning predict director strategic_planning || return 1
  in_app learning recommend strategic_planning --limit 3 || return 1
  in_app learning patterns >/dev/null || return 1
  in_app learning insights >/dev/null || return 1
  # What the guide's exec_run(f"python3 /app/learning/{command}") gets: no Python in the image.
  out=$(in_app python3 -c 'print(1)' 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "python3 ran in the image (the docs say it has none)"; return 1; }
  echo "python3 in the image: exit $rc (none, as docs/BUILD.md says)"
}

non_root() {
  local user uids
  user=$(engine inspect --format '{{.Config.User}}' "$APP") || return 1
  echo "image user: $user"
  uids=$(in_app sh -c 'for f in /proc/[0-9]*/status; do awk -v f="$f" "/^Uid:/ {print \$2, f}" "$f"; done') || return 1
  echo "$uids"
  [ -n "$uids" ] || return 1
  if awk '$1 == 0 {found=1} END {exit !found}' <<<"$uids"; then fail "a process runs as root"; return 1; fi
  [ "$(in_app id -u)" != 0 ] || { fail "exec runs as root"; return 1; }
}

no_build_tools() {
  local found
  found=$(in_app sh -c 'for t in swift swiftc clang gcc cc c++ ld make pkg-config protoc-c; do command -v "$t"; done
                        for h in /usr/include/libpq-fe.h /usr/include/nghttp2 /usr/include/protobuf-c /src /usr/lib/swift; do
                          [ ! -e "$h" ] || echo "$h"; done')
  [ -z "$found" ] || { fail "build tools or headers in the image: $found"; return 1; }
  echo "none of swift, swiftc, clang, gcc, cc, c++, ld, make, pkg-config, protoc-c, the -dev headers, /src"
  local libs
  libs=$(in_app ldd /usr/local/bin/learning-server /usr/local/bin/learning) || return 1
  if grep 'not found' <<<"$libs"; then fail "unresolved libraries"; return 1; fi
  echo "learning-server and learning find all their libraries:"
  awk '/=>/ {print $1}' <<<"$libs" | sort -u | tr '\n' ' '; echo
}

IMAGE_MB=""
image_size() { # recorded in the summary; over 300 MB means a build tool or -dev package slipped in
  local bytes
  bytes=$(engine image inspect --format '{{.Size}}' "$IMAGE") || return 1
  IMAGE_MB=$((bytes / 1000000))
  echo "$IMAGE: $IMAGE_MB MB ($bytes bytes)"
  engine image inspect --format '{{.Size}}' "$RUNTIME_IMAGE" | awk '{printf "  of which the run-time base image %s: %d MB\n", "'"$RUNTIME_IMAGE"'", $1 / 1000000}'
  [ "$IMAGE_MB" -le 300 ] || { fail "the image is over 300 MB"; return 1; }
}

post_execution() { # post_execution TASK_ID TASK_TYPE: prints the HTTP status
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$BASE/executions" -H 'Content-Type: application/json' \
    -d "{\"agent_name\": \"director\", \"task_id\": \"$1\", \"task_type\": \"$2\", \"execution_time\": 12.5, \"success\": true}"
}
psql_pg() { engine exec "$PG" psql -U claude_user -d claude_auth -Atc "$1"; }
count_executions() { psql_pg "SELECT count(*) FROM agents.execution_log"; }
uuid() { cat /proc/sys/kernel/random/uuid; }
MODEL=""

store_data_and_model() { # executions, then a retrain that saves a model
  local i code
  for i in $(seq 1 30); do
    code=$(post_execution "$(uuid)" "ctest_$((i % 3))")
    [[ $code == 2* ]] || { fail "POST /executions answered $code"; return 1; }
  done
  curl -fsS --max-time 120 -X POST "$BASE/ml/retrain" -H 'Content-Type: application/json' -d '{}' >/dev/null || return 1
  sleep 1
  MODEL=$(engine logs "$APP" 2>&1 | sed -n 's/.* model \([^ ]*\) saved in agents.ml_models.*/\1/p' | tail -1)
  [ -n "$MODEL" ] || { fail "no 'model ... saved' in the log"; return 1; }
  echo "executions stored: $(count_executions); model saved: $MODEL"
}

stop_in_time() { # docker/podman stop waits 10 s, then kills: an orderly stop is well within that
  local start end secs code
  start=$(date +%s%N)
  engine stop "$APP" >/dev/null 2>>"$WORK/engine.log" || return 1
  end=$(date +%s%N)
  secs=$(( (end - start) / 1000000 ))
  code=$(engine inspect --format '{{.State.ExitCode}}' "$APP")
  echo "stop took $secs ms; exit code $code"
  engine logs --tail 5 "$APP" 2>&1 | sed 's/^/  /'
  [ "$secs" -lt 10000 ] || { fail "stop took 10 s or more"; return 1; }
  [ "$code" = 0 ] || { fail "exit code $code: killed, not stopped"; return 1; }
  local tail
  tail=$(engine logs --tail 5 "$APP" 2>&1)
  grep -q 'received signal 15: shutting down' <<<"$tail" || { fail "no SIGTERM in the log"; return 1; }
  tail -1 <<<"$tail" | grep -q 'learning-server: stopped$' || { fail "no 'stopped' at the end of the log"; return 1; }
}

restart_keeps_data() { # down (containers gone, the named volume kept), up: the data and the model are back
  local before after
  before=$(count_executions) || return 1
  compose down >"$WORK/down1.log" 2>&1 || { cat "$WORK/down1.log"; return 1; }
  engine container inspect "$APP" >/dev/null 2>&1 && { fail "down left $APP"; return 1; }
  compose up -d --no-build >"$WORK/up2.log" 2>&1 || { cat "$WORK/up2.log"; return 1; }
  wait_healthy 180 "$PG" "$APP" || return 1
  after=$(count_executions) || return 1
  echo "executions before down: $before, after up: $after"
  [ "$before" = "$after" ] && [ "$after" -gt 0 ] || { fail "the data did not survive"; return 1; }
  engine logs "$APP" 2>&1 | grep "loaded model $MODEL " || { fail "the service did not load model $MODEL"; return 1; }
}

database_after_service() { # the service starts first and waits; PostgreSQL comes 10 s later
  local waits before
  engine stop "$APP" "$PG" >/dev/null 2>>"$WORK/engine.log" || return 1
  before=$(engine logs "$APP" 2>&1 | grep -c 'database not ready')
  engine start "$APP" >/dev/null 2>>"$WORK/engine.log" || return 1
  sleep 10
  waits=$(( $(engine logs "$APP" 2>&1 | grep -c 'database not ready') - before ))
  echo "service waiting: $waits 'database not ready' lines in 10 s"
  [ "$waits" -gt 0 ] || { fail "the service did not wait for the database"; return 1; }
  [ "$(engine inspect --format '{{.State.Running}}' "$APP")" = true ] || { fail "the service exited"; return 1; }
  ! curl -fsS --max-time 2 "$BASE/health" >/dev/null 2>&1 || { fail "healthy without a database"; return 1; }
  local out
  out=$(in_app learning db-check 2>&1) && { fail "db-check succeeded without a database"; return 1; }
  echo "learning db-check meanwhile: $out"
  engine start "$PG" >/dev/null 2>>"$WORK/engine.log" || return 1
  wait_healthy 120 "$PG" "$APP" || return 1
  echo "executions: $(count_executions)"
}

writer() { # writer STOPFILE: posts executions until STOPFILE exists; acknowledged task ids to acked
  local id code n=0
  while [ ! -e "$1" ] && [ $n -lt 3000 ]; do
    n=$((n + 1)) id=$(uuid)
    code=$(post_execution "$id" ctest_restart)
    if [[ $code == 2* ]]; then echo "$id" >>"$WORK/acked"; else echo "$code" >>"$WORK/refused"; sleep 0.1; fi
  done
}

database_restart() { # PostgreSQL stops for 5 s and starts again under a running service taking writes
  : >"$WORK/acked"; : >"$WORK/refused"
  writer "$WORK/stop-writer" & WRITER=$!
  sleep 3
  local acked_before
  acked_before=$(wc -l <"$WORK/acked")
  echo "writes acknowledged before the restart: $acked_before"
  engine stop "$PG" >/dev/null 2>>"$WORK/engine.log" || return 1
  sleep 5
  engine start "$PG" >/dev/null 2>>"$WORK/engine.log" || return 1
  echo "PostgreSQL stopped for 5 s and started again; acknowledged meanwhile: $(( $(wc -l <"$WORK/acked") - acked_before ))"
  local deadline=$((SECONDS + 60)) after
  while :; do # until the service has reconnected and taken 50 more writes
    after=$(wc -l <"$WORK/acked")
    if [ "$after" -gt $((acked_before + 50)) ] && [ "$(get /health 2>/dev/null | json_field database)" = connected ]; then break; fi
    [ $SECONDS -lt $deadline ] || { fail "no reconnection within 60 s ($((after - acked_before)) writes since)"; break; }
    sleep 1
  done
  touch "$WORK/stop-writer"; wait "$WRITER"; WRITER=""
  echo "acknowledged: $(wc -l <"$WORK/acked"); refused: $(wc -l <"$WORK/refused") ($(sort "$WORK/refused" | uniq -c | tr -s ' ' | tr '\n' ','))"
  [ "$(wc -l <"$WORK/acked")" -gt $((acked_before + 50)) ] || return 1
  local lost
  deadline=$((SECONDS + 30))
  while :; do # queued writes may land a moment later
    psql_pg "SELECT task_id FROM agents.execution_log WHERE task_type = 'ctest_restart'" | sort >"$WORK/stored" || return 1
    lost=$(sort "$WORK/acked" | comm -23 - "$WORK/stored" | wc -l)
    [ "$lost" -eq 0 ] || [ $SECONDS -ge $deadline ] && break
    sleep 1
  done
  echo "acknowledged writes missing from the database: $lost (stored $(wc -l <"$WORK/stored"))"
  [ "$lost" -eq 0 ] || return 1
  wait_healthy 60 "$APP"
}

# --- the run --------------------------------------------------------------------------------------
BUILD_NETWORK=()
# podman: apt-get in RUN steps on the host's network, and the docker image format: the OCI format
# has no HEALTHCHECK, which podman otherwise drops with a warning.
[ "$ENGINE" = podman ] && BUILD_NETWORK=(--network host --format docker)
required "container engine ($ENGINE) and compose" setup_engine
if [ "${CT_FRESH:-0}" = 1 ]; then required "cold start: remove the stand-ins, the image and the build cache" fresh; fi
required "base images (official, or local stand-ins)" base_images
required "Swift packages: the host's Package.resolved (and bare clones where GitHub is out of reach) in $VENDOR" vendor_packages
required "build docker/Dockerfile" build_image
required "compose up: both containers healthy" up
check "the guide's curl commands through the published port" guide_curls
check "the guide's in-container commands via exec (learning, learning db-check)" exec_commands
check "the service runs as a non-root user" non_root
check "no build tools in the image; its binaries find their libraries" no_build_tools
check "image size" image_size
check "executions stored and a model saved" store_data_and_model
check "stop within 10 s, orderly shutdown in the log (tini forwards SIGTERM)" stop_in_time
check "down and up: data kept in the named volume, model reloaded" restart_keeps_data
check "a database that starts after the service is waited for" database_after_service
check "a database restart under a running service: reconnected, no acknowledged write lost" database_restart
[ -z "$IMAGE_MB" ] || steps+=("info|0|image $IMAGE: $IMAGE_MB MB")
summary "$(summary_title)"
[ "$failed" -eq 0 ]
