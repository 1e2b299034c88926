#!/usr/bin/env node
// The built CLI lives in dist/ (npm install / npm ci runs `prepare`, which builds it).
// This file is CommonJS (bin/package.json): it runs before the ES module loader has touched
// libuv's threadpool, so the pool size it sets still applies (see threadpool-size.cjs).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { sizeThreadpool } = require('./threadpool-size.cjs');

const entry = join(__dirname, '..', 'dist', 'cli', 'main.js');
// Exit 3 (infrastructure error, as in the README's table) for a missing build or an error no command caught.
if (!existsSync(entry)) {
  process.stderr.write('sphere-rig: infra-error: dist/ is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(3);
}
sizeThreadpool();
import(pathToFileURL(entry).href).catch((error) => {
  process.stderr.write(`sphere-rig: infra-error: unexpected error: ${error && error.stack ? error.stack : error}\n`);
  process.exit(3);
});
