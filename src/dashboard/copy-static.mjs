// Build step: the dashboard's static files go next to its compiled modules in
// dist/dashboard/, which `sphere-rig up` serves at /.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'dist', 'dashboard');
mkdirSync(out, { recursive: true });
for (const file of ['index.html', 'styles.css']) copyFileSync(join(here, file), join(out, file));
