#!/usr/bin/env node
// The built CLI lives in dist/ (npm install / npm ci runs `prepare`, which builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('sphere-rig: dist/ is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(70);
}
await import(entry.href);
