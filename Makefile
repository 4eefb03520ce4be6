# The README's two commands: `make run` and `make test`.
.PHONY: run test generate check-generated validate-docker build

run:
	scripts/run.sh

test:
	scripts/test.sh

generate:
	scripts/generate-protos.sh

check-generated:
	scripts/generate-protos.sh --check

validate-docker:
	scripts/validate-docker.sh

build:
	swift build
