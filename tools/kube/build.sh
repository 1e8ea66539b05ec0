#!/usr/bin/env bash
# Builds the real Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet) from the Go module proxy into a cache folder and prints that folder.
# The first build takes tens of minutes and ~3 GB of memory; later runs reuse
# the binaries when the pinned version has not changed (the folder is named
# after it), and rebuild in seconds to minutes from a warm Go build cache.
#
#   tools/kube/build.sh            # build (if needed), print the folder
#   HASHFLEET_KUBE_BIN=dir ...     # use/fill that folder instead
set -euo pipefail
cd "$(dirname "$0")"
version=$(grep -oE "^(require)?[[:space:]]*k8s.io/kubernetes v[^ ]+" go.mod | awk "{print \$NF}")
[ -n "$version" ] || { echo "tools/kube/go.mod pins no k8s.io/kubernetes" >&2; exit 1; }
dir=${HASHFLEET_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/hashfleet/kube/$version}
cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
missing=0
for c in "${cmds[@]}"; do [ -x "$dir/$c" ] || missing=1; done
if [ "$missing" = 1 ]; then
  mkdir -p "$dir.tmp"
  start=$(date +%s)
  # -mod=mod is not used: go.sum must already hold every hash (GOFLAGS from
  # the caller may say -mod=readonly, which is what we want here).
  pkgs=(); for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version" \
    -o "$dir.tmp/" "${pkgs[@]}" >&2
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  echo "built Kubernetes $version in $(( $(date +%s) - start )) s into $dir" >&2
fi
echo "$dir"
