# syntax=docker/dockerfile:1.7
#
# The plugin server image: the unprivileged nginx with nginx/nginx.conf, serving a verified
# plugin tree at /srv/plugins. No Python and no toolkit in it: the tree is built in a builder.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg PLUGIN_SERVER_VERSION=1.2.3 \
#     --build-arg VCS_REF="$(git rev-parse HEAD)" \
#     --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     --build-arg SOURCE_URL=https://github.com/OWNER/REPO \
#     -t plugin-server:1.2.3 .
#
# Two kinds of image come from this file (docs/gateway-versions.md):
#
# * A gateway-version image, exactly as Higress's build-plugin-server-from-snapshot workflow
#   builds higress/plugin-server:X.Y.Z: the release snapshot copied to ./snapshot.json, and
#     --build-arg SNAPSHOT_SHA256=<sha256 of snapshot.json> --build-arg GATEWAY_VERSION=X.Y.Z
#     --build-arg HIGRESS_SOURCE_COMMIT=<sha> --build-arg PLUGIN_SERVER_SOURCE_COMMIT=<sha>
#   The tree holds exactly the snapshot's plugins (by digest) plus unmanaged-plugins.lock.json,
#   /plugins/snapshot-inventory.json lists them, and the four build args become labels.
# * Without SNAPSHOT_SHA256: the rolling image, exactly what plugins.lock.json pins
#   (digest-checked), next to the hand-placed plugins committed under plugins/. While the lock
#   is empty, the newest committed snapshots/X.Y.Z.json is built instead, so a plain
#   `docker build .` serves the newest gateway release. A build that would serve nothing fails.
#
# The choice is made by scripts/image-tree.sh (PLUGINS_SOURCE=auto; or snapshot, lock, tree:
# ship the committed plugins/ as it is, for air-gapped builds). Every source needs the registry
# but tree. Private registry: --secret id=docker-config,src=$HOME/.docker/config.json;
# a mirror: --build-arg PLUGIN_REGISTRY=host:port (and PLAIN_HTTP=true for one without TLS).
#
# Base images are pinned by the digest of their multi-platform index. To refresh a pin:
#   skopeo inspect --raw docker://docker.io/nginxinc/nginx-unprivileged:1.30-alpine | sha256sum
#   (or `docker buildx imagetools inspect <image:tag>`), then replace the digest after "@sha256:".
ARG PYTHON_IMAGE=docker.io/library/python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
# nginx stable line (1.30); Dependabot proposes new digests (.github/dependabot.yml)
ARG NGINX_IMAGE=docker.io/nginxinc/nginx-unprivileged:1.30-alpine@sha256:ed04ec1ff34502c339ee5c3ae3f855442398edc1d05591e2b98981dcbbd20b1e

# The tree is the same for every platform: build it once, on the build machine's own platform.
FROM --platform=$BUILDPLATFORM ${PYTHON_IMAGE} AS builder
ARG PLUGINS_SOURCE=auto
ARG PLUGIN_SERVER_VERSION=dev
ARG SNAPSHOT_SHA256=""
ARG GATEWAY_VERSION=""
ARG PLUGIN_REGISTRY=""
ARG PLAIN_HTTP=false
# the commit time (the release workflow passes it): tools in RUN that stamp times use it, and
# BuildKit's rewrite-timestamp clamps the layers' file times to it, so rebuilds agree
ARG SOURCE_DATE_EPOCH
# index.json names the server version it was built for: the gateway version, for a snapshot
ENV PLUGIN_SERVER_VERSION=${GATEWAY_VERSION:-${PLUGIN_SERVER_VERSION}} \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
# the dependencies and the build backend from the hash lock (./scripts/lock), each file
# checked against its sha256; then the toolkit alone, built without fetching anything
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md LICENSE ./
COPY sync/ sync/
# sync/nginx.conf links here: the package carries a copy for `plugin-sync serve`
COPY nginx/nginx.conf nginx/nginx.conf
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && plugin-sync --version
# the inputs of the tree (.dockerignore keeps the context to them): plugins.yaml, the lock, the
# hand-placed plugins, unmanaged-plugins.lock.json, snapshots/ and, when given, snapshot.json
COPY . ./
# the build args above reach the script as environment variables
RUN --mount=type=secret,id=docker-config,target=/root/.docker/config.json,required=false \
    sh scripts/image-tree.sh && \
    rm -f plugins/.lock plugins/.journal.json && \
    chmod -R u=rwX,go=rX plugins

FROM ${NGINX_IMAGE}
ARG PLUGIN_SERVER_VERSION=dev
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
ARG SOURCE_URL=unknown
# upstream's gateway-version build passes these four; its checks read them back as labels
ARG SNAPSHOT_SHA256=""
ARG HIGRESS_SOURCE_COMMIT=""
ARG PLUGIN_SERVER_SOURCE_COMMIT=""
ARG GATEWAY_VERSION=""
LABEL org.opencontainers.image.title="higress-plugin-server" \
      org.opencontainers.image.description="Higress Wasm plugins served over HTTP by nginx" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${PLUGIN_SERVER_SOURCE_COMMIT:-${VCS_REF}}" \
      org.opencontainers.image.version="${GATEWAY_VERSION:-${PLUGIN_SERVER_VERSION}}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      io.higress.higress-source-commit="${HIGRESS_SOURCE_COMMIT}" \
      io.higress.plugin-snapshot-sha256="${SNAPSHOT_SHA256}" \
      io.higress.gateway-version="${GATEWAY_VERSION}"
# /tmp/nginx is the one writable place (pid file, temp dirs); Kubernetes mounts an emptyDir there
USER 0
RUN install -d -o 101 -g 101 -m 0755 /tmp/nginx
COPY nginx/nginx.conf /etc/nginx/nginx.conf
COPY --from=builder /build/plugins /srv/plugins
USER 101
EXPOSE 8080
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["nginx", "-e", "stderr", "-c", "/etc/nginx/nginx.conf"]
CMD []
