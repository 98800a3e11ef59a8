# The image of the control worker and the fleet API (docker-compose.yml). GPU hosts run
# deploy/gpu-host/Dockerfile (or its systemd unit): deploy/README.md.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

# The control worker's report and search activities run two Python scripts: executors/charts.py
# (matplotlib: sweep and comparison charts) and executors/suggest.py (optuna: tpe sweeps). A venv
# with just those, pinned by requirements.lock, at /app/.venv where GF_PYTHON points by default.
FROM node:20-bookworm-slim AS python
RUN apt-get update && apt-get install -y -q --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /app/.venv && /app/.venv/bin/pip install --no-cache-dir --disable-pip-version-check matplotlib optuna -c /tmp/requirements.lock

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y -q --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=python /app/.venv .venv
COPY executors executors
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json package.json
# the commit of this build (no .git in the image): with the package version, the workers' build id
# in the Worker Deployment (docs/architecture.md); `docker compose build` passes it from GIT_COMMIT
ARG GIT_COMMIT=
RUN if [ -n "$GIT_COMMIT" ]; then echo "$GIT_COMMIT" > BUILD_COMMIT; fi
# the fleet page `gflow serve` serves at / (static files, not compiled)
COPY --from=build /app/server/public server/public
USER node
# V8 flags of common/control-worker-flags.ts (why there)
CMD ["node", "--no-turbo-escape", "--optimize-for-size", "dist/workers/control.js"]
