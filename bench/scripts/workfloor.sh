#!/usr/bin/env bash
# The work floor: the network floor, keeping the blobs, then the work no pull can skip,
# done by native tools on all cores: unpack every module (tar/gzip), hash it (sha256sum,
# md5sum) and place it, with its documents, under OUT/<name>/<version>/.
#
#   workfloor.sh FETCH PLACE OUT PARALLEL
#     FETCH: lines "URL FILE" (FILE relative to OUT/.download)
#     PLACE: lines "NAME VERSION FORMAT" (FORMAT tar+gzip or wasm-layer); the blobs of
#            NAME are in OUT/.download/NAME/ as plugin.tar.gz or plugin.wasm and the
#            documents under their own names.
set -euo pipefail
fetch=$1 place=$2 out=$3 parallel=$4
dl=$out/.download
mkdir -p "$dl"
awk -v dl="$dl" '{ printf "url = \"%s\"\noutput = \"%s/%s\"\n", $1, dl, $2 }' "$fetch" \
  | curl --no-progress-meter --show-error --fail --create-dirs --parallel --parallel-max "$parallel" --config -
export out dl
xargs -P "$(nproc)" -n 3 sh -c '
  name=$1 version=$2 format=$3 src=$dl/$1 dest=$out/$1/$2
  mkdir -p "$dest"
  if [ "$format" = wasm-layer ]; then mv "$src/plugin.wasm" "$dest/"; else tar -xzf "$src/plugin.tar.gz" -C "$dest"; fi
  for doc in spec.yaml README.md README_EN.md; do [ ! -f "$src/$doc" ] || mv "$src/$doc" "$dest/"; done
  sha256sum "$dest/plugin.wasm" > "$dest/plugin.wasm.sha256"
  md5sum "$dest/plugin.wasm" > "$dest/plugin.wasm.md5"
' sh < "$place"
rm -rf "$dl"
