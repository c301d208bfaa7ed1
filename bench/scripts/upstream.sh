#!/usr/bin/env bash
# The upstream way, as the first plugin server did it: for each plugin in turn, copy the
# artifact with an OCI CLI (skopeo) into a temporary OCI image layout, find the module
# layer in the manifest, extract the module, hash it and write metadata.txt.
#
#   upstream.sh REGISTRY LIST OUT      LIST: lines "NAME REPOSITORY TAG"
set -euo pipefail
registry=$1 list=$2 out=$3
TAR_GZIP=application/vnd.oci.image.layer.v1.tar+gzip
WASM_LAYER=application/vnd.module.wasm.content.layer.v1+wasm
while read -r name repo tag; do
  tmp=$(mktemp -d)
  skopeo copy --quiet --insecure-policy --src-tls-verify=false \
    "docker://$registry/$repo:$tag" "oci:$tmp/layout:$tag"
  blobs=$tmp/layout/blobs/sha256
  manifest=$(jq -r '.manifests[0].digest' "$tmp/layout/index.json")
  read -r type digest < <(jq -r --arg t "$TAR_GZIP" --arg w "$WASM_LAYER" \
    '.layers[] | select(.mediaType == $t or .mediaType == $w) | .mediaType + " " + .digest' \
    "$blobs/${manifest#sha256:}")
  dest=$out/$name/$tag
  mkdir -p "$dest"
  if [ "$type" = "$WASM_LAYER" ]; then
    cp "$blobs/${digest#sha256:}" "$dest/plugin.wasm"
  else
    tar -xzf "$blobs/${digest#sha256:}" -C "$dest"
  fi
  sha256sum "$dest/plugin.wasm" > "$dest/plugin.wasm.sha256"
  md5=$(md5sum "$dest/plugin.wasm")
  printf 'Plugin Name: %s\nSize: %s bytes\nMD5: %s\n' "$name" "$(stat -c %s "$dest/plugin.wasm")" "${md5%% *}" \
    > "$dest/metadata.txt"
  rm -rf "$tmp"
done < "$list"
