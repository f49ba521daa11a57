# Tessera in a container: build the native addons and Prisma clients in one stage, run as a
# non-root user in a slim one. The server applies pending migrations when it starts.
# Node 24 is the active LTS line (the code also runs on Node 20, which CI uses).
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# Installs the production dependencies, generates the Prisma clients and builds dist/ (postinstall).
RUN npm ci --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 TESSERA_DATA_DIR=/app/data DATABASE_URL=file:/app/data/tessera.db
WORKDIR /app
# The code stays owned by root, so the server cannot rewrite itself; only its data folder is its own.
COPY --from=build /app /app
RUN mkdir -p /app/data && chown node:node /app/data && chmod 0700 /app/data
USER node
VOLUME /app/data
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["sh", "-c", "node bin/tessera.js migrate && exec node bin/tessera.js serve"]
