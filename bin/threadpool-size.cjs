'use strict';
// libuv's threadpool is sized once, at its first use, from UV_THREADPOOL_SIZE (default 4). The DAA
// service verifies and signs there; on a small machine four pool threads busy with ECDSA take the
// cores from the event loop that feeds them (bench:daa on 2 cores: about a tenth fewer
// attestations/s than with one). So: one thread fewer than the cores, 1 to 4, unless the user chose.
const { availableParallelism } = require('node:os');

/** Sets UV_THREADPOOL_SIZE in `env` unless already set; for this process, call it before anything uses the pool. */
function sizeThreadpool(env = process.env) {
  if (!env.UV_THREADPOOL_SIZE) env.UV_THREADPOOL_SIZE = String(Math.min(4, Math.max(1, availableParallelism() - 1)));
}

module.exports = { sizeThreadpool };
