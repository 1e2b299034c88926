# sphere-rig daemon with emulated boards, DAA service and dashboard.
# Real boards need the USB bus passed through (--device /dev/bus/usb, plus the
# board's ttyUSB devices) and the udev rule installed on the host.
FROM node:20-bookworm-slim

# Native modules (better-sqlite3, serialport, usb, node-pty) build with node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libudev-dev openssl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
COPY tsconfig*.json ./
COPY bin ./bin
COPY src ./src
COPY rigs ./rigs
COPY fixtures ./fixtures
COPY docs ./docs
# npm ci runs `prepare`, which builds dist/ from src/.
RUN npm ci && npm prune --omit=dev

ENV SPHERE_RIG_LOG_FORMAT=json
# Keys, emulator state and the run store live here: mount a volume to keep them.
VOLUME ["/app/.sphere-rig"]
# The daemon serves on a literal loopback address only (127.0.0.1:8480); it refuses
# 0.0.0.0. Run the container with the host's network so that the host reaches it on
# its own 127.0.0.1:8480: docker run --network host -v rig-state:/app/.sphere-rig IMAGE
CMD ["node", "bin/sphere-rig.js", "up"]
