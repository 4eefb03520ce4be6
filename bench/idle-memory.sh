#!/usr/bin/env bash
# Idle RSS of H2BenchServer, then RSS with 1,000 idle HTTP/2 connections open (each sent the
# connection preface and SETTINGS, so a full nghttp2 session exists per connection).
# usage: bench/idle-memory.sh [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000}
swift build -c release --product H2BenchServer >&2
SERVER="$(swift build -c release --show-bin-path)/H2BenchServer"
PORT=${BENCH_PORT:-18552}
ulimit -n 8192
"$SERVER" "$PORT" >/dev/null 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
sleep 1
rss() { awk '/VmRSS/{print $2}' /proc/$PID/status; }
IDLE=$(rss)
python3 - "$PORT" "$COUNT" "$PID" > /tmp/learning-idle-rss.$$ <<'PY'
import socket, sys, time
port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
conns = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(preface)
    conns.append(s)
for s in conns:
    s.settimeout(5)
    s.recv(4096)  # the server's SETTINGS: the session exists
time.sleep(1)
rss = int([l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0])
print(rss)
PY
LOADED=$(tail -1 /tmp/learning-idle-rss.$$); rm -f /tmp/learning-idle-rss.$$
echo "idle RSS: $((IDLE / 1024)) MB ($IDLE kB)"
echo "RSS with $COUNT idle HTTP/2 connections: $((LOADED / 1024)) MB ($LOADED kB)"
echo "per idle connection: $(( (LOADED - IDLE) / COUNT )) kB"
