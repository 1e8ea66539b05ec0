#!/usr/bin/env bash
# Builds the hashfleet image without any registry: compile the static binary
# on the host (GOARCH per target, so no emulation is needed), then
# `docker build` FROM scratch.
#   deploy/docker/build.sh [TAG]            this host's arch (default tag: hashfleet:latest)
#   deploy/docker/build.sh --all [TAG]      linux/amd64 and linux/arm64 images,
#                                           tagged TAG-amd64 and TAG-arm64
# A multi-arch manifest list needs a registry (docker manifest works on
# pushed images only): push both tags, then
#   docker manifest create TAG TAG-amd64 TAG-arm64 && docker manifest push TAG
set -euo pipefail
cd "$(dirname "$0")/../.."
arches=()
if [ "${1:-}" = "--all" ]; then
  arches=(amd64 arm64)
  shift
fi
tag=${1:-hashfleet:latest}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
rev=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
mkdir "$ctx/empty"
printf 'root:x:0:0:root:/:/sbin/nologin\nhashfleet:x:65532:65532:hashfleet:/:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nhashfleet:x:65532:\n' >"$ctx/group"

# build ARCH TAG: compile for linux/ARCH and build the image around it.
# Docker 20.10's classic builder (no buildx here) cannot build FROM scratch
# for another platform, and nothing in the image runs at build time, so a
# foreign-arch image is built as usual and its config is then marked with
# the right architecture (docker save, edit, docker load).
build() {
  local arch=$1 t=$2
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags="-s -w -X main.version=${rev}" -o "$ctx/hashfleet" ./cmd/hashfleet
  docker build -q -t "$t" --build-arg VERSION="$rev" --build-arg REVISION="$rev" -f deploy/docker/Dockerfile "$ctx" >/dev/null
  local have
  have=$(docker image inspect -f '{{.Architecture}}' "$t")
  if [ "$have" != "$arch" ]; then
    retarget "$t" "$have" "$arch"
  fi
  docker image inspect -f '{{.Size}} {{.Os}}/{{.Architecture}}' "$t" |
    awk -v t="$t" '{printf "built %s (%s): %.1f MB\n", t, $2, $1/1e6}'
}

# retarget TAG FROM TO: rewrite the image config's architecture.
retarget() {
  local t=$1 from=$2 to=$3 dir old cfg
  dir=$(mktemp -d "$ctx/img.XXXXXX")
  old=$(docker image inspect -f '{{.Id}}' "$t")
  docker save "$t" | tar -C "$dir" -xf -
  cfg=$(sed -n 's/.*"Config":"\([^"]*\)".*/\1/p' "$dir/manifest.json")
  grep -q "\"architecture\":\"$from\"" "$dir/$cfg" || { echo "build.sh: no architecture $from in $cfg" >&2; exit 1; }
  sed -i "s/\"architecture\":\"$from\"/\"architecture\":\"$to\"/" "$dir/$cfg"
  tar -C "$dir" -cf - . | docker load -q >/dev/null
  [ "$(docker image inspect -f '{{.Architecture}}' "$t")" = "$to" ] || { echo "build.sh: $t is not $to after load" >&2; exit 1; }
  docker rmi "$old" >/dev/null 2>&1 || true
  rm -rf "$dir"
}

if [ "${#arches[@]}" -eq 0 ]; then
  build "$(go env GOARCH)" "$tag"   # the host's arch: images it can run
  exit 0
fi
for a in "${arches[@]}"; do
  build "$a" "$tag-$a"
done
