# syntax=docker/dockerfile:1
# Build: every dependency, then src/ compiled to dist/ with the embedded
# database's template (npm run build).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/pglite-template.mjs ./scripts/
COPY src ./src
RUN npm run build

# The dependencies the server runs with, without the development ones.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# The image: compiled JavaScript on Node 24, no TypeScript loader.
FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4180 DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY drizzle ./drizzle
RUN ln -s /app/bin/gatehouse.mjs /usr/local/bin/gatehouse && mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4180
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:4180/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Node options as in `npm start` (a smaller young generation): see the README, Operations.
CMD ["node", "--max-semi-space-size=8", "dist/main.js"]
