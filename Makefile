# The README's two commands: `make run` and `make test`.
.PHONY: run test generate check-generated validate-docker container-test build

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

# Builds docker/Dockerfile and runs it with docker/docker-compose.yml (Docker, else podman).
container-test:
	scripts/container-test.sh

build:
	swift build
