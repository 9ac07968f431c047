# One image for every app: gateway, collator, poller and the OpenAI emulator. Node 24 runs the TypeScript
# sources directly (type stripping), so there is no build step; pick the app with the command, e.g.
#   docker run ... batch-gpt node apps/collator/src/main.ts
FROM node:24-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
# The flags every launcher gives the collator and the poller (APP_NODE_FLAGS in packages/local-services):
# a young generation sized for what the apps keep, not for the host's memory. The gateway's are larger
# (--max-semi-space-size=16): docker-compose.yml sets them in its NODE_OPTIONS; so should any other
# way of running the gateway from this image.
ENV NODE_OPTIONS=--max-semi-space-size=8

# pnpm at the exact version package.json names.
COPY package.json ./
RUN npm install -g "$(node -p 'require("./package.json").packageManager')" && npm cache clean --force

# Dependencies first (cached while the lockfile is unchanged), then the sources.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --prod
COPY . .
RUN pnpm install --offline --frozen-lockfile --prod \
  && mkdir -p /data/emulator && chown node:node /data/emulator

# Node's compile cache, filled here: each app loads its modules and exits (BATCH_GPT_LOAD_ONLY), so every
# container starts with each TypeScript file already stripped and never loads Node's TypeScript
# compiler, about 20 MB of each app's memory (COMPILE_CACHE_DIR in packages/local-services).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN for app in gateway collator poller openai-emulator; do \
      BATCH_GPT_LOAD_ONLY=1 node "apps/$app/src/main.ts" || exit 1; \
    done

USER node
EXPOSE 8080 8090
CMD ["node", "apps/gateway/src/main.ts"]
