# syntax=docker/dockerfile:1
# One image for every scaled-out part of peep; the command picks the part (k8s/):
#   peep serve     API and/or dashboard (PEEP_API / PEEP_DASHBOARD)
#   peep builder   background workers
#   peep migrate   apply db/migrations and exit
# Build it where the cluster can see it, e.g. inside minikube (docs/kubernetes.md):
#   docker build -t peep:0.1.0 .
# Not built by CI: the CI machines have no Docker engine.

# ---- build: install everything, compile the TypeScript workspaces and the Next.js dashboard --------
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false

# The manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
COPY pkg/package.json pkg/
COPY api/package.json api/
COPY builder/package.json builder/
COPY sdk/package.json sdk/
COPY cli/package.json cli/
COPY dashboard/package.json dashboard/
# No install scripts are needed (native parts such as argon2 and sharp come as prebuilt optional
# packages); `prepare` would build before the sources are here. npm install is the fallback for npm's
# refusal of lockfiles that omit other platforms' optional packages (see .ci/run).
RUN npm ci --ignore-scripts || npm install --ignore-scripts --no-save

COPY tsconfig.base.json ./
COPY pkg pkg
COPY api api
COPY builder builder
COPY sdk sdk
COPY cli cli
COPY db db
COPY scripts scripts
COPY dashboard dashboard
RUN node node_modules/typescript/bin/tsc -b pkg api builder sdk cli \
 && node scripts/build-dashboard.mjs --force \
 && npm prune --omit=dev \
 && rm -rf dashboard/.next/cache

# ---- runtime: the built tree, owned by root and read-only to the unprivileged user -----------------
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    PEEP_HOST=0.0.0.0 \
    PEEP_PORT=7070 \
    PEEP_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app /app
# `peep` on PATH for the manifests' commands; /data for the embedded database when no DATABASE_URL
# is given (docker run -v peep-data:/data ...). Next.js writes its caches under .next/cache.
RUN ln -s /app/cli/dist/bin.js /usr/local/bin/peep \
 && chmod 0755 /app/cli/dist/bin.js \
 && mkdir -p /data /app/dashboard/.next/cache \
 && chown 1000:1000 /data /app/dashboard/.next/cache
# The base image's "node" user; numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 7070
CMD ["peep", "serve"]
