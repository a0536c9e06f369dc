#!/usr/bin/env bash
# Build the gateway's container image with podman (`make image`).
#   IMAGE  the tag to build (default localhost/kernel-gateway:latest)
#   BASE   the base image (default: the Dockerfile's, python:3.12-slim)
# The host's CA bundle is mounted into the build at the same path so that pip inside reaches
# the package index as the host does; the ulimit override lets podman build without cgroups.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/kernel-gateway:latest}
BASE=${BASE:-}
CA=/etc/ssl/certs/ca-certificates.crt

conf=$(mktemp)
trap 'rm -f "$conf"' EXIT
printf '[containers]\ndefault_ulimits = []\n' >"$conf"

args=(--isolation=chroot --format=docker -t "$IMAGE" -f Dockerfile)
if [ -n "$BASE" ]; then
  args+=(--build-arg "BASE=$BASE")
fi
if [ -f "$CA" ]; then
  args+=(-v "$CA:$CA:ro" --build-arg "PIP_CERT=$CA")
fi
CONTAINERS_CONF="$conf" podman build "${args[@]}" .
podman image inspect --format 'built {{index .RepoTags 0}}: {{.Size}} bytes' "$IMAGE"
