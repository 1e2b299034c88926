import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logCategories, logCategory, logMessage, logMessageByName } from '../../../src/firmware/device-log/log-manifests.js';
import { MANIFEST_DIR, readManifestSource, renderManifestModule } from '../../../tools/generate-log-manifests.js';

const DATA_MODULE = fileURLToPath(new URL('../../../src/firmware/device-log/log-manifest-data.ts', import.meta.url));
const SPEC_COPY = fileURLToPath(new URL('../../../../shared/spec/azure-sphere-os-24.06/log_manifests', import.meta.url));

describe("device log: Microsoft's OS 24.06 log manifests", () => {
  it('the compiled module is what the json files generate (run `npm run generate:log-manifests` after changing them)', () => {
    expect(readFileSync(DATA_MODULE, 'utf8')).to.equal(renderManifestModule(readManifestSource()));
  });

  it('fixtures/ holds only .json files (any other file stops Microsoft\'s parser), byte for byte the spec\'s copy where it is present', () => {
    const files = readdirSync(MANIFEST_DIR);
    expect(files.every((f) => f.endsWith('.json'))).to.equal(true);
    expect(files).to.have.length(32);
    let spec: string[] = [];
    try {
      spec = readdirSync(SPEC_COPY);
    } catch {
      return; // a clone without ../shared stands alone
    }
    expect(files.sort()).to.deep.equal(spec.sort());
    for (const file of files) expect(readFileSync(join(MANIFEST_DIR, file)).equals(readFileSync(join(SPEC_COPY, file))), file).to.equal(true);
  });

  it('has the categories and message counts of device-log-format.md section 4', () => {
    const counts = Object.fromEntries(logCategories().map((c) => [c.id, c.messages.size]));
    expect(counts).to.include({ 2: 274, 3: 32, 6: 47, 7: 123, 10: 102, 11: 0, 12: 22, 16: 59, 20: 3, 21: 0, 35: 5 });
    expect(logCategories()).to.have.length(32);
    expect(logCategory(11)).to.include({ name: 'applaunch', unusable: true });
    expect(logMessage(6, 169)).to.deep.include({ name: 'OsVersion', text: 'OS build information', params: [{ name: 'osversion', type: 'string' }] });
  });

  it('finds a message by name, preferring a current one over an obsolete namesake, and refuses a typo', () => {
    expect(logMessageByName('networkd', 'ConnectedStatusChanged')).to.include({ id: 248, obsolete: false });
    expect(() => logMessageByName('appman', 'NoSuchMessage')).to.throw(/no appman\/NoSuchMessage/);
  });
});
