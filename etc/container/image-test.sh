#!/usr/bin/env bash
# `make image-test`: build the image on a local Debian base and run the gateway from it.
# Needs root, podman and debootstrap (Debian packages), and minutes; not part of `make test`.
#  1. a base image localhost/kgbase from debootstrap (once; kept for the next run)
#  2. `make image` on that base; the image must stay under 300 MB
#  3. the image's filesystem (podman image mount), with /proc, /dev and writable /tmp and
#     home bind-mounted, runs the gateway as its user on the host's loopback, with only the
#     image's own environment and KG_* variables
#  4. /readyz, then a notebook endpoint with the token; SIGTERM; exit 0 and no kernel left
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-localhost/kernel-gateway:latest}
BASE_IMAGE=${BASE_IMAGE:-localhost/kgbase}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MAX_BYTES=$((300 * 1000 * 1000))
PORT=${PORT:-18888}
TOKEN=image-test-token

[ "$(id -u)" = 0 ] || { echo "make image-test needs root (debootstrap, mounts, chroot)" >&2; exit 2; }
for tool in podman debootstrap chroot curl; do
  command -v "$tool" >/dev/null || { echo "make image-test needs $tool" >&2; exit 2; }
done

work=$(mktemp -d /var/tmp/kg-image-test.XXXXXX)
root=""
gateway=""
cleanup() {
  if [ -n "$gateway" ] && kill -0 "$gateway" 2>/dev/null; then kill -KILL "$gateway"; fi
  if [ -n "$root" ]; then
    for sub in home/gateway tmp dev proc; do
      mountpoint -q "$root/$sub" && umount -l "$root/$sub"
    done
    podman image unmount "$IMAGE" >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! podman image exists "$BASE_IMAGE"; then
  echo "== debootstrap a base image $BASE_IMAGE from $MIRROR"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$work/base" "$MIRROR" >"$work/debootstrap.log"
  # what a runtime image doesn't need: apt's downloads and lists, docs, man pages, locales
  rm -rf "$work"/base/var/cache/apt/* "$work"/base/var/lib/apt/lists/* \
    "$work"/base/usr/share/doc/* "$work"/base/usr/share/man/* "$work"/base/usr/share/locale/*
  tar -C "$work/base" -c . | podman import - "$BASE_IMAGE"
  rm -rf "$work/base"
fi

echo "== build $IMAGE on $BASE_IMAGE"
IMAGE="$IMAGE" BASE="$BASE_IMAGE" etc/container/image.sh
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
[ "$size" -lt "$MAX_BYTES" ] || { echo "FAIL: image is $size bytes (limit $MAX_BYTES)" >&2; exit 1; }

echo "== run the gateway from the image's filesystem"
root=$(podman image mount "$IMAGE")
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o mode=0700,uid=1000,gid=1000 tmpfs "$root/home/gateway"
cp etc/api_examples/hello.ipynb "$root/tmp/api.ipynb"
chmod 644 "$root/tmp/api.ipynb"
mapfile -t image_env < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
env -i "${image_env[@]}" HOME=/home/gateway \
  KG_IP=127.0.0.1 KG_PORT="$PORT" KG_API=notebook-http KG_SEED_URI=/tmp/api.ipynb \
  KG_AUTH_TOKEN="$TOKEN" KG_SHUTDOWN_GRACE_PERIOD=5 \
  chroot --userspec=1000:1000 "$root" jupyter kernelgateway >"$work/gateway.log" 2>&1 &
gateway=$!

for _ in $(seq 600); do
  if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then break; fi
  kill -0 "$gateway" 2>/dev/null || { cat "$work/gateway.log"; echo "FAIL: gateway exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" || { cat "$work/gateway.log"; echo "FAIL: never ready" >&2; exit 1; }
echo
answer=$(curl -sf -H "Authorization: token $TOKEN" "http://127.0.0.1:$PORT/hello")
[ "$answer" = "hello world" ] || { cat "$work/gateway.log"; echo "FAIL: /hello said '$answer'" >&2; exit 1; }
echo "GET /hello -> $answer"

kill -TERM "$gateway"
code=0
wait "$gateway" || code=$?
gateway=""
left=$(for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"; done || true)
cat "$work/gateway.log"
[ "$code" = 0 ] || { echo "FAIL: the gateway exited with $code" >&2; exit 1; }
[ -z "$left" ] || { echo "FAIL: processes left in the image: $left" >&2; exit 1; }
echo "PASS: image $IMAGE ($size bytes) served /hello, drained and exited 0 with no kernel left"
