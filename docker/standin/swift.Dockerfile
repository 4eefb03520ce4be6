# Stand-in for the official swift:6.3-bookworm image, for machines that cannot pull it
# (scripts/container-test.sh). Built on a bookworm image with the packages the official image
# installs, plus the Swift toolchain this machine has, copied to /usr as the official image unpacks
# it. Build context: the toolchain's root (the folder holding usr/, e.g. /opt/swift).
#
#   podman build -f docker/standin/swift.Dockerfile \
#     --build-arg BASE_IMAGE=localhost/learning-standin/bookworm-slim:debootstrap \
#     -t localhost/learning-standin/swift-toolchain:6.3-bookworm /opt/swift
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
# The official image's list (swiftlang/swift-docker, 6.x bookworm), less gnupg2, which it needs
# only to check the toolchain's signature.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      binutils git libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev \
      libsqlite3-0 libstdc++-12-dev libxml2-dev libncurses-dev libz3-dev pkg-config tzdata \
      zlib1g-dev unzip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY usr/ /usr/
RUN swift --version
