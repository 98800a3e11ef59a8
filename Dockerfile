# The image of the control worker and the fleet API (docker-compose.yml). GPU hosts run
# `node dist/workers/gpu.js` from a checkout with scripts/setup.sh, next to their CUDA drivers.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json package.json
# the fleet page `gflow serve` serves at / (static files, not compiled)
COPY --from=build /app/server/public server/public
USER node
CMD ["node", "dist/workers/control.js"]
