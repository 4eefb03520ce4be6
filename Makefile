# The README's two commands: `make run` and `make test`.
.PHONY: run test generate check-generated build

run:
	scripts/run.sh

test:
	scripts/test.sh

generate:
	scripts/generate-protos.sh

check-generated:
	scripts/generate-protos.sh --check

build:
	swift build
