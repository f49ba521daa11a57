# Tessera in a container: build the native addons and Prisma clients in one stage, run as a
# non-root user in a slim one. Node 24 is the active LTS line (the code also runs on Node 20,
# which CI uses). docs/operations.md says how to run it; compose.yaml runs it on PostgreSQL.
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# Installs the production dependencies, generates the Prisma clients and builds dist/ (postinstall).
RUN npm ci --omit=dev

FROM node:24-bookworm-slim
# HOST and TESSERA_ADMIN_HOST are 0.0.0.0: inside a container 127.0.0.1 is the container's own
# loopback, which nothing outside it can reach, not even a port published on the host. The
# container is the boundary: whoever runs it decides what to publish. Publish the admin port
# (3001: /metrics and the admin API) only on the host's loopback or a private network
# (`-p 127.0.0.1:3001:3001`), or not at all.
# TESSERA_MIGRATE stays at its default (true), so a lone container on the embedded SQLite database
# creates and upgrades its schema when it starts. On PostgreSQL, run `node bin/tessera.js migrate`
# as its own step and give the serving containers TESSERA_MIGRATE=false (see compose.yaml).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 TESSERA_ADMIN_HOST=0.0.0.0 TESSERA_DATA_DIR=/app/data DATABASE_URL=file:/app/data/tessera.db
WORKDIR /app
# The code stays owned by root, so the server cannot rewrite itself; only its data folder is its own.
COPY --from=build /app /app
RUN mkdir -p /app/data && chown node:node /app/data && chmod 0700 /app/data
USER node
VOLUME /app/data
# Only the public port: `docker run -P` publishes every EXPOSEd port on all of the host's
# addresses, and the admin port must not go out that way.
EXPOSE 3000
# Ready, not just alive: the database answers. (A Kubernetes liveness probe should use /healthz
# instead, so that a database outage does not restart every instance.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Serving only: migrations are their own step (`node bin/tessera.js migrate`). Exec form, so that
# node is PID 1 and gets SIGTERM itself: it finishes the requests in flight, then exits.
CMD ["node", "bin/tessera.js", "serve"]
