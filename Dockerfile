# graftd server image (replaces the original's raft-demo image). Node 24 LTS (Node 20 reached end
# of life on 2026-04-30).
#   docker build --tag raft-demo .
#   docker network create mynet
#   docker run -d --name nodew -h nodew --net mynet -v nodew-data:/data raft-demo -id nodew -radv nodew:12000 -hadv nodew:11000 /data/nodew
#   docker run -d --name nodee -h nodee --net mynet -v nodee-data:/data raft-demo -id nodee -radv nodee:12000 -hadv nodee:11000 -join nodew:11000 /data/nodee
#   docker run -d --name noder -h noder --net mynet -v noder-data:/data raft-demo -id noder -radv noder:12000 -hadv noder:11000 -join nodew:11000 /data/noder
# HTTP listens on 0.0.0.0:11000, raft on the container's IP, port 12000. Advertise the container's
# name (-radv/-hadv): its IP changes when the container is re-created, its name does not.
# The process runs as the image's user `node` (uid 1000, gid 1000): a bind-mounted host directory
# must be writable by it (`sudo chown -R 1000:1000 ./data`); named volumes inherit /data's owner.
# Build stage: compile the TypeScript (dev dependencies: typescript, tsx) into dist/.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
RUN npm run build

# Runtime: production dependencies and the compiled code only (bin/ runs dist/ when there is no src/).
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The image's non-root user owns the data volume.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 11000 12000
# Docker's health = the process is up and its storage works (/healthz), which is what depends_on
# needs: a node restarted alone cannot become ready (/readyz: leader known, caught up) until its
# peers are up too. Load balancers use /readyz. No curl in the slim image: node's fetch asks.
# GRAFTD_HEALTH_URL overrides the address (https, another port, /readyz).
HEALTHCHECK --interval=5s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.GRAFTD_HEALTH_URL||'http://127.0.0.1:11000/healthz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/app/bin/graftd"]
