# modelserver image. CPU (default):  docker build -t modelserver .
# GPU (CUDA 12, cuDNN 9):           docker build --target gpu -t modelserver:gpu .
# Podman: add --format docker (OCI format drops HEALTHCHECK). Everything below is explained in README "Container image".
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

# ---- build: compile, make the demo archives, keep production dependencies for this platform only ----
FROM ${NODE_IMAGE} AS build
# The demo OCR sample is rendered from SVG text: without a font it comes out as boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core fontconfig-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY handlers ./handlers
COPY scripts ./scripts
COPY proto ./proto
# npm ci runs "prepare" (tsc), which needs the sources above. The image's npm 10 does not read package.json's
# allowScripts, so the CPU image skips onnxruntime-node's CUDA download by its own variable.
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund \
 && node dist/scripts/build-demo-models.js /app/model_store \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# onnxruntime-node ships binaries for every platform (darwin, win32, linux/arm64: ~250 MB); keep this one's.
RUN set -e; ort=node_modules/onnxruntime-node/bin/napi-v6; \
    arch=$(node -p process.arch); \
    rm -rf "$ort/darwin" "$ort/win32"; \
    for d in "$ort"/linux/*; do [ "$(basename "$d")" = "$arch" ] || rm -rf "$d"; done; \
    rm -rf src scripts handlers tsconfig.json tsconfig.build.json

# ---- build-gpu: the same, plus onnxruntime-node's CUDA 12 execution provider (its installer downloads it from
# NuGet, so this stage needs the network) ----
FROM build AS build-gpu
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---- gpu (docker build --target gpu): a CUDA 12 + cuDNN 9 runtime with node copied in. The lines from LABEL to
# CMD are the same as the runtime stage's (test/deploy/dockerfile.test.ts keeps them equal). ----
FROM ${CUDA_IMAGE} AS gpu
COPY --from=build /usr/local/bin/node /usr/local/bin/node
LABEL org.opencontainers.image.title="modelserver" \
      org.opencontainers.image.description="TorchServe-compatible model server for ONNX models (KServe v1, Open Inference Protocol v2)" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# Owned by root and not writable by the server's user: the application cannot be changed at run time.
COPY --from=build-gpu /app /app
COPY deploy/docker/config.properties /app/container/config.properties
COPY deploy/docker/healthcheck.mjs /app/container/healthcheck.mjs
# The only folders the server writes: state (snapshot, token key file) and scratch (extracted archives).
# Both are volumes, so the root file system can be read-only (docker run --read-only).
# Group 0 with the owner's rights: OpenShift runs images as an arbitrary uid in group 0.
RUN mkdir -p /var/lib/modelserver /models && chown 1000:0 /var/lib/modelserver /models && chmod 775 /var/lib/modelserver /models && chmod 1777 /tmp
VOLUME ["/var/lib/modelserver", "/tmp"]
# HOME: onnxruntime keeps an id there and warns when it cannot write it.
ENV NODE_ENV=production \
    HOME=/var/lib/modelserver \
    TS_CONFIG_FILE=/app/container/config.properties \
    MS_ENABLE_ENVVARS_CONFIG=true \
    MS_PID_FILE=/tmp/modelserver.pid \
    TMPDIR=/tmp \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:glibc.malloc.hugetlb=1
# Numeric, so that Kubernetes can check runAsNonRoot.
USER 1000:1000
# 8080 inference (TorchServe, KServe v1, OIP v2), 8082 metrics. 8081 (management) listens on the container's
# loopback only unless MS_MANAGEMENT_ADDRESS says otherwise.
EXPOSE 8080 8082
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["node", "/app/container/healthcheck.mjs"]
# The server is PID 1 (no relaunch: GLIBC_TUNABLES is already set): SIGTERM drains, then exits 0.
ENTRYPOINT ["node", "/app/bin/modelserver.js", "--foreground", "--snapshot-dir", "/var/lib/modelserver/config"]
CMD []

# ---- runtime (the default target): the CPU image ----
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="modelserver" \
      org.opencontainers.image.description="TorchServe-compatible model server for ONNX models (KServe v1, Open Inference Protocol v2)" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# Owned by root and not writable by the server's user: the application cannot be changed at run time.
COPY --from=build /app /app
COPY deploy/docker/config.properties /app/container/config.properties
COPY deploy/docker/healthcheck.mjs /app/container/healthcheck.mjs
# The only folders the server writes: state (snapshot, token key file) and scratch (extracted archives).
# Both are volumes, so the root file system can be read-only (docker run --read-only).
# Group 0 with the owner's rights: OpenShift runs images as an arbitrary uid in group 0.
RUN mkdir -p /var/lib/modelserver /models && chown 1000:0 /var/lib/modelserver /models && chmod 775 /var/lib/modelserver /models && chmod 1777 /tmp
VOLUME ["/var/lib/modelserver", "/tmp"]
# HOME: onnxruntime keeps an id there and warns when it cannot write it.
ENV NODE_ENV=production \
    HOME=/var/lib/modelserver \
    TS_CONFIG_FILE=/app/container/config.properties \
    MS_ENABLE_ENVVARS_CONFIG=true \
    MS_PID_FILE=/tmp/modelserver.pid \
    TMPDIR=/tmp \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:glibc.malloc.hugetlb=1
# Numeric, so that Kubernetes can check runAsNonRoot.
USER 1000:1000
# 8080 inference (TorchServe, KServe v1, OIP v2), 8082 metrics. 8081 (management) listens on the container's
# loopback only unless MS_MANAGEMENT_ADDRESS says otherwise.
EXPOSE 8080 8082
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["node", "/app/container/healthcheck.mjs"]
# The server is PID 1 (no relaunch: GLIBC_TUNABLES is already set): SIGTERM drains, then exits 0.
ENTRYPOINT ["node", "/app/bin/modelserver.js", "--foreground", "--snapshot-dir", "/var/lib/modelserver/config"]
CMD []
