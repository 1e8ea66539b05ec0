#!/usr/bin/env bash
# Builds the hashfleet image without any registry: compile the static binary
# on the host, then `docker build` FROM scratch.
#   deploy/docker/build.sh [TAG]        (default tag: hashfleet:latest)
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-hashfleet:latest}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
rev=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${rev}" -o "$ctx/hashfleet" ./cmd/hashfleet
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
mkdir "$ctx/empty"
printf 'root:x:0:0:root:/:/sbin/nologin\nhashfleet:x:65532:65532:hashfleet:/:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nhashfleet:x:65532:\n' >"$ctx/group"
docker build -q -t "$tag" --build-arg VERSION="$rev" --build-arg REVISION="$rev" -f deploy/docker/Dockerfile "$ctx"
docker image inspect -f '{{.Size}}' "$tag" | awk -v t="$tag" '{printf "built %s: %.1f MB\n", t, $1/1e6}'
