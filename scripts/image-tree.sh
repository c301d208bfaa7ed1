#!/bin/sh
# Builds the served tree inside the image builder (see the Dockerfile), in /build/plugins.
#
# PLUGINS_SOURCE=auto (default) picks, in this order:
#   snapshot  SNAPSHOT_SHA256 is set: build snapshot.json (upstream's gateway-version build
#             puts the release snapshot there), checked against that sha256, plus
#             unmanaged-plugins.lock.json; GATEWAY_VERSION, when set, must be its gateway version
#   lock      plugins.lock.json pins plugins: pull exactly the lock (the rolling image)
#   default   the lock is empty: the newest snapshots/X.Y.Z.json (plugin-sync newest-snapshot:
#             semver precedence, 2.3.0 above 2.3.0-rc.1), checked against
#             snapshots/SHA256SUMS, plus unmanaged-plugins.lock.json
# PLUGINS_SOURCE=tree ships the committed plugins/ as it is (air-gapped builds).
# PLUGIN_REGISTRY=HOST[:PORT] reads every artifact from a mirror; PLAIN_HTTP=true talks HTTP to it.
# A build that ends with nothing to serve fails.
set -eu

die() { echo "image build: $*" >&2; exit 1; }

set --
[ -n "${PLUGIN_REGISTRY:-}" ] && set -- "$@" --registry "$PLUGIN_REGISTRY"
[ "${PLAIN_HTTP:-false}" = true ] && set -- "$@" --plain-http

build_snapshot() {  # FILE SHA256 [pull options]
  file=$1 sha=$2
  shift 2
  plugin-sync --root plugins pull --snapshot "$file" --expect-sha256 "$sha" \
    --unmanaged-lock unmanaged-plugins.lock.json --gzip "$@"
}

lock_has_plugins() {
  python3 -c 'import json, sys; sys.exit(0 if json.load(open("plugins.lock.json")).get("plugins") else 1)'
}

source="${PLUGINS_SOURCE:-auto}"
if [ "$source" = auto ]; then
  if [ -n "${SNAPSHOT_SHA256:-}" ]; then source=snapshot
  elif lock_has_plugins; then source=lock
  else source=default
  fi
fi

case "$source" in
  snapshot)
    [ -n "${SNAPSHOT_SHA256:-}" ] || die "PLUGINS_SOURCE=snapshot needs the build arg SNAPSHOT_SHA256"
    [ -f snapshot.json ] || die "SNAPSHOT_SHA256 is set but snapshot.json is not in the build context"
    if [ -n "${GATEWAY_VERSION:-}" ]; then
      python3 -c 'import json, sys
v = json.load(open("snapshot.json")).get("gatewayVersion")
sys.exit(0 if v == sys.argv[1] else f"image build: snapshot.json is gateway {v}, not GATEWAY_VERSION {sys.argv[1]}")' "$GATEWAY_VERSION"
    fi
    build_snapshot snapshot.json "$SNAPSHOT_SHA256" "$@" ;;
  lock)
    plugin-sync --root plugins pull --locked --gzip "$@" ;;
  default)
    # the highest gateway version by semver precedence, as every reader of versions picks it
    newest=$(plugin-sync newest-snapshot snapshots) ||
      die "plugins.lock.json is empty and snapshots/ holds no snapshot: nothing to serve"
    sha=$(awk -v f="${newest#snapshots/}" '$2 == f { print $1 }' snapshots/SHA256SUMS)
    [ -n "$sha" ] || die "snapshots/SHA256SUMS has no sha256 for $newest"
    echo "image build: plugins.lock.json is empty; building the newest gateway release, $newest" >&2
    build_snapshot "$newest" "$sha" "$@" ;;
  tree)
    plugin-sync --root plugins serve --prepare-only ;;
  *)
    echo "image build: PLUGINS_SOURCE must be auto, snapshot, lock or tree, not '$source'" >&2; exit 2 ;;
esac

count=$(python3 -c 'import json; print(json.load(open("plugins/index.json"))["count"])' 2>/dev/null || echo 0)
[ "$count" -gt 0 ] || die "nothing to serve: the $source build produced no plugin (is plugins.lock.json empty?)"
plugin-sync --root plugins verify
echo "image build: serving $count plugin version(s) from the $source build" >&2
