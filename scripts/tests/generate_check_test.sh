#!/usr/bin/env bash
# Pins that `scripts/generate-protos.sh --check` (run by scripts/test.sh and so by CI) passes on the
# committed tree and fails whenever Generated/ (or the Python client's messages, or the generated Swift) no longer matches
# Protos/, and that regenerating is deterministic. Works on a copy of the repository, never on the tree itself.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/tests/lib.sh
WORK=$(mktemp -d /tmp/learning-gen-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

PY_PROTO=clients/python/src/learning_system_client/_proto
SWIFT_GENERATED="Sources/LearningAPI/Generated Sources/LearningRPC/Generated Tests/ProtoMessagesTests/Generated"
fresh_copy() { # a pristine copy of what the generator reads and writes
  rm -rf "$WORK/repo" && mkdir -p "$WORK/repo/$PY_PROTO" && cp -r Protos Generated scripts "$WORK/repo/" &&
    cp "$PY_PROTO"/learning_pb2.py "$PY_PROTO"/learning_pb2.pyi "$WORK/repo/$PY_PROTO/" &&
    for dir in $SWIFT_GENERATED; do mkdir -p "$WORK/repo/$dir" && cp -r "$dir"/. "$WORK/repo/$dir/" || return 1; done &&
    # The project's virtualenv (grpcio-tools for the Python client's messages), not a new one per copy.
    scripts/venv-install.sh grpcio-tools==1.85.1 protobuf==7.36.2 && ln -s "$(pwd)/.venv" "$WORK/repo/.venv"
}
check() { (cd "$WORK/repo" && scripts/generate-protos.sh --check >"$WORK/out" 2>&1); }

fresh_copy
expect_exit 0 "check passes on the committed Generated/" check

fresh_copy
cat >>"$WORK/repo/Protos/learning/v1/learning.proto" <<'PROTO'

// A message added after Generated/ was made.
message StaleCheckProbe { string note = 1; }
PROTO
expect_exit 1 "check fails when a message is added to the .proto but not regenerated" check
expect "the failure names the stale files and the fix" \
  grep -q "Generated/ is stale: run scripts/generate-protos.sh" "$WORK/out"
expect "the failure names the stale Swift types too" \
  grep -q "Sources/LearningAPI/Generated/Messages.swift is stale" "$WORK/out"

fresh_copy
sed -i 's|  int64 uptime_seconds = 8;|  int64 uptime_seconds = 8; // [swift: name=uptime]|' "$WORK/repo/Protos/learning/v1/learning.proto"
expect_exit 1 "check fails when a [swift: ...] annotation changes but the Swift is not regenerated" check
expect "the failure names the stale codecs" \
  grep -q "Sources/LearningRPC/Generated/MessageCodecs.swift is stale" "$WORK/out"

fresh_copy
sed -i 's|  int64 uptime_seconds = 8;|  int64 uptime_seconds = 8; // [swift: nmae=uptime]|' "$WORK/repo/Protos/learning/v1/learning.proto"
expect_exit 1 "check fails on an unknown [swift: ...] annotation (a typo is not ignored)" check
expect "the failure names the annotation" grep -q "unknown swift annotation 'nmae'" "$WORK/out"

fresh_copy
echo "// hand edit" >>"$WORK/repo/Sources/LearningAPI/Generated/Messages.swift"
expect_exit 1 "check fails when a generated Swift file is edited by hand" check

fresh_copy
sed -i 's/string agent_name = 1;/string agent_name_renamed = 1;/' "$WORK/repo/Protos/learning/v1/learning.proto"
if cmp -s Protos/learning/v1/learning.proto "$WORK/repo/Protos/learning/v1/learning.proto"; then
  not_ok "the rename probe changed the .proto (agent_name = 1 not found)"
else
  expect_exit 1 "check fails when a field is renamed in the .proto but not regenerated" check
fi

fresh_copy
echo "/* hand edit */" >>"$WORK/repo/Generated/learning/v1/learning.pb-c.c"
expect_exit 1 "check fails when a generated file is edited by hand" check

fresh_copy
rm "$WORK/repo/Generated/learning_descriptor_set.c"
expect_exit 1 "check fails when a generated file is missing" check

fresh_copy
echo "/* stray */" >"$WORK/repo/Generated/stray.h"
expect_exit 1 "check fails when Generated/ holds a file the generator does not make" check

fresh_copy
echo "# hand edit" >>"$WORK/repo/$PY_PROTO/learning_pb2.py"
expect_exit 1 "check fails when the Python client's messages are edited by hand" check
expect "the failure names the Python client's stale file" grep -q "learning_pb2.py is stale" "$WORK/out"

fresh_copy
regenerate() {
  (cd "$WORK/repo" && scripts/generate-protos.sh >/dev/null) && diff -r -q Generated "$WORK/repo/Generated" &&
    diff -r -q "$PY_PROTO" "$WORK/repo/$PY_PROTO" -x __init__.py -x __pycache__ &&
    for dir in $SWIFT_GENERATED; do diff -r -q "$dir" "$WORK/repo/$dir" || return 1; done
}
expect "regenerating gives byte-identical output (deterministic)" regenerate

finish
