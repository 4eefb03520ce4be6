# shellcheck shell=bash
# Shared by the bench scripts (source it from the repository root; do not execute it).
# The peer servers of ../shared/bench-peers write beside themselves, so they run from a copy.

# prepare_peers DEFAULT_DIR: copies ../shared/bench-peers (or $BENCH_PEERS_SRC) to $BENCH_PEERS_DIR
# (default DEFAULT_DIR) unless the copy exists, and sets PEERS_DIR to it.
prepare_peers() {
  local source=${BENCH_PEERS_SRC:-$PWD/../shared/bench-peers}
  PEERS_DIR=${BENCH_PEERS_DIR:-$1}
  [ -d "$PEERS_DIR" ] || cp -r "$source" "$PEERS_DIR"
}

# setup_http_peers: the peers' h2load settings (N_REQ, RUNS, N_WARM, overridable) and their setup for
# the HTTP/2 and HTTP/1.1 peers named in PEERS (default "nghttpd fastapi"; grpc-swift-2 is built only
# when PEERS names swift-grpc, about 10 minutes). The peers' quiet-machine gate waits for <10% CPU
# before each run; on a shared 2-core box that rarely comes, so it waits at most 20 s and repeats a
# disturbed run once (foreign CPU is in the table).
setup_http_peers() {
  export N_REQ=${N_REQ:-50000} RUNS=${RUNS:-1} N_WARM=${N_WARM:-5000}
  export QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-20} RETRIES=${RETRIES:-1}
  PEERS=${PEERS:-nghttpd fastapi}
  case " $PEERS " in *" swift-grpc "*) ;; *) export SKIP_SWIFT=1 ;; esac
  "$PEERS_DIR/setup.sh" >&2
}
