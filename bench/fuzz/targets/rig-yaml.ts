import { readFileSync } from 'node:fs';
import { parseRigConfig } from '../../../src/daemon/rig-config.js';
import { InputError } from '../../../src/util/failure.js';
import { wordsOf } from '../mutate.js';
import { repoFilesIn, repoPath } from '../seed-files.js';
import type { FuzzTarget } from '../target.js';
import { mutateYaml, YAML_TOKENS } from '../yaml-mutate.js';

/**
 * Rig files: parseRigConfig (YAML, schema, the cross-field checks, daemon.listen)
 * on mutations of rigs/*.yaml and the rig files of the test fixtures. Its
 * documented refusals are InputErrors with these codes.
 */
export const RIG_ERROR_CODES: ReadonlySet<string> = new Set(['rig-unparseable', 'rig-invalid', 'listen-invalid', 'non-loopback-address']);

const SEED_FOLDERS = ['rigs', 'test/daemon/fixtures', 'test/cli/fixtures', 'test/device/mt3620/fixtures', 'test/dashboard/fixtures'];

export function rigSeeds(): string[] {
  return SEED_FOLDERS.flatMap((folder) => repoFilesIn(folder, '.yaml'))
    .map((file) => readFileSync(repoPath(file), 'utf8'))
    .filter((text) => /^boards:/m.test(text));
}

const EXTRA_TOKENS = ['127.0.0.1:0', '[::1]:8480', '0.0.0.0:1', 'localhost:80', '127.0.0.1:65536', '::ffff:127.0.0.1', 'https://', 'AS123', 'emulated', 'mt3620', 'B', 'D'];

export const rigYamlTarget: FuzzTarget = {
  name: 'rig-yaml',
  async prepare() {
    const seeds = rigSeeds();
    if (seeds.length === 0) throw new Error('rig-yaml: no seed rig files found');
    const dictionary = [...YAML_TOKENS, ...EXTRA_TOKENS, ...wordsOf(seeds)];
    return {
      seedCount: seeds.length,
      generate: (rng) => Buffer.from(mutateYaml(rng, rng.pick(seeds), seeds, { dictionary }), 'utf8'),
      run: (input) => {
        parseRigConfig(input.toString('utf8'), 'fuzz-rig.yaml');
      },
      isRejection: (error) => error instanceof InputError && RIG_ERROR_CODES.has(error.code),
    };
  },
};
