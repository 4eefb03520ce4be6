#!/usr/bin/env bash
# Runs the libFuzzer harnesses of fuzz/ (HTTP/1.1 request parser, gRPC deframer + stream state
# machine, OTLP trace export decoder with gzip, the protobuf wire check of gRPC requests, and end
# to end: REST request bodies through the shim's handlers and gRPC requests through the registered
# methods, both into the service over the in-memory repository) for a bounded time each, starting
# from the committed seed corpus in fuzz/corpus/.
# usage: scripts/fuzz.sh [seconds-per-harness]   (default 60)
# Fails if a harness crashes, or if libFuzzer reports no coverage (instrumentation silently off).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:-60}
# -sanitize=fuzzer adds libFuzzer and the coverage instrumentation; address is combined in the same
# flag (separate --sanitize options of SwiftPM can drop the fuzzer's coverage flags).
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2
BIN=$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --show-bin-path)
WORK=$(mktemp -d /tmp/learning-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0
# NAME:CORPUS[:ENVIRONMENT]. FuzzProtoWire runs without the exit-time leak check: the schema it
# reads once (a global) keeps strings inside enum payloads whose pointers Swift stores with spare
# bits, which LeakSanitizer cannot see as references, so it reports them at exit as leaked.
# FuzzRESTBodies and FuzzRPCMethods run the service, which keeps what it accepted (the in-memory
# repository, the learning state) and allocates in background tasks while an input runs: the
# per-input leak check would report those, so it is off for them too.
for pair in FuzzHTTP1Parser:http1 FuzzGRPCDeframer:grpc FuzzOTLPDecoder:otlp FuzzProtoWire:protowire:ASAN_OPTIONS=detect_leaks=0 \
            FuzzRESTBodies:rest:ASAN_OPTIONS=detect_leaks=0 FuzzRPCMethods:rpc:ASAN_OPTIONS=detect_leaks=0; do
  IFS=: read -r name corpus extra <<<"$pair"
  mkdir -p "$WORK/$corpus" "$WORK/artifacts-$corpus"
  echo "== $name for ${SECONDS_EACH}s (seeds: fuzz/corpus/$corpus)"
  # New inputs go to the scratch corpus; the committed seeds are read only.
  if ! env ${extra:+"$extra"} "$BIN/$name" "$WORK/$corpus" "corpus/$corpus" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
       -artifact_prefix="$WORK/artifacts-$corpus/" -max_len=4096 >"$WORK/$name.log" 2>&1; then
    echo "!! $name crashed:"; tail -40 "$WORK/$name.log"
    mkdir -p crashes && cp -r "$WORK/artifacts-$corpus/." crashes/ || true
    status=1
    continue
  fi
  first=$(grep -m1 -o 'cov: [0-9]*' "$WORK/$name.log" | awk '{print $2}')
  last=$(grep -o 'cov: [0-9]*' "$WORK/$name.log" | tail -1 | awk '{print $2}')
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$WORK/$name.log" | awk '{print $2}')
  echo "   no crash; executions: ${runs:-?}; coverage: ${first:-0} -> ${last:-0} edges"
  if [ -z "$last" ] || [ "$last" -eq 0 ]; then
    echo "!! $name reported no coverage: the instrumentation is off"; status=1
  fi
done
exit $status
