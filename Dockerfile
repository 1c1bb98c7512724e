# graftd server image (replaces the original's raft-demo image).
#   docker build --tag raft-demo .
#   docker network create mynet
#   docker run -d --name nodew -h nodew --net mynet raft-demo -id nodew /data/nodew
#   docker run -d --name nodee -h nodee --net mynet raft-demo -id nodee -join nodew:11000 /data/nodee
#   docker run -d --name noder -h noder --net mynet raft-demo -id noder -join nodew:11000 /data/noder
# The raft address defaults to the container's IP, port 12000; HTTP listens on 0.0.0.0:11000.
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
# The image's non-root user owns the data volume.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 11000 12000
# No curl in the slim image: node's fetch asks /readyz (leader known, caught up). GRAFTD_HEALTH_URL overrides the address.
HEALTHCHECK --interval=5s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.GRAFTD_HEALTH_URL||'http://127.0.0.1:11000/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/app/bin/graftd"]
