import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The rig reaches emulated boards only through the surfaces a real board has, and
 * builds artefacts with src/firmware (below both): nothing in the rig's own layers
 * may import the emulator's modules.
 */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const RIG_LAYERS = ['daemon', 'scenario', 'device', 'daa', 'firmware', 'image', 'pki', 'link', 'util'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('layering: the rig imports nothing from the emulator', () => {
  for (const layer of RIG_LAYERS) {
    it(`src/${layer}/ imports nothing from src/emulator/`, () => {
      const offenders: string[] = [];
      for (const file of tsFiles(join(SRC, layer))) {
        for (const match of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
          const target = relative(SRC, resolve(dirname(file), match[1]!));
          if (target.startsWith('emulator/')) offenders.push(`${relative(SRC, file)} -> ${target}`);
        }
      }
      expect(offenders).to.deep.equal([]);
    });
  }
});
