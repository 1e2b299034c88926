import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSigningRoles } from '../../src/pki/signing-roles.js';
import { ScratchDir } from './openssl.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** The built CLI (npm test builds first), as users run it: no TypeScript compiled per call. */
function sphereRig(args: string[]) {
  return spawnSync(process.execPath, ['bin/sphere-rig.js', ...args], { cwd: repo, encoding: 'utf8' });
}

describe('sphere-rig keys generate', function () {
  // Up to three CLI processes a test, each generating P-256 keys: seconds apiece on a loaded machine.
  this.timeout(90_000);
  let scratch: ScratchDir;
  beforeEach(() => {
    scratch = new ScratchDir();
  });
  afterEach(() => scratch.remove());

  it('writes a loadable key set with 0600 keys and exits 0', async () => {
    const out = join(scratch.path, 'keys');
    const run = sphereRig(['keys', 'generate', '--out', out]);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.contain(`Wrote 4 signing keys to ${out}`);
    expect(readdirSync(out)).to.include.members(['os.key.pem', 'capability.cert.pem', 'keystore.pem', 'keys.json']);
    for (const name of readdirSync(out).filter((n) => n.endsWith('.key.pem'))) {
      expect(statSync(join(out, name)).mode & 0o777, name).to.equal(0o600);
    }
    const roles = await loadSigningRoles(out);
    expect(roles.map((r) => r.role)).to.deep.equal(['os', 'production-app', 'development-app', 'capability']);
    for (const role of roles) expect(run.stdout).to.contain(role.cert.thumbprintHex);
  });

  it('exits 2 with a usage message without --out', () => {
    const run = sphereRig(['keys', 'generate']);
    expect(run.status).to.equal(2);
    expect(run.stderr).to.contain('--out');
  });

  it('refuses to overwrite without --force (exit 3, nothing changed), replaces with it, and answers in JSON', () => {
    const out = scratch.path;
    expect(sphereRig(['keys', 'generate', '--out', out]).status).to.equal(0);
    const first = statSync(join(out, 'os.key.pem')).mtimeMs;

    const refused = sphereRig(['keys', 'generate', '--out', out, '--json']);
    expect(refused.status).to.equal(3);
    const body = JSON.parse(refused.stdout) as { ok: boolean; error: { code: string } };
    expect(body).to.deep.include({ ok: false });
    expect(body.error.code).to.equal('signing-keys-exist');
    expect(statSync(join(out, 'os.key.pem')).mtimeMs).to.equal(first);

    const forced = sphereRig(['keys', 'generate', '--out', out, '--force', '--json']);
    expect(forced.status, forced.stderr).to.equal(0);
    const result = JSON.parse(forced.stdout) as { ok: boolean; dir: string; roles: { role: string; thumbprint: string }[] };
    expect(result.ok).to.equal(true);
    expect(result.dir).to.equal(out);
    expect(result.roles.map((r) => r.role)).to.deep.equal(['os', 'production-app', 'development-app', 'capability']);
  });

  it('explains the files and roles in --help', () => {
    const run = sphereRig(['keys', 'generate', '--help']);
    expect(run.status).to.equal(0);
    for (const text of ['--out <dir>', '--force', '<role>.key.pem', 'keystore.pem', 'keys.json', 'development-app', 'AppDevelopment']) {
      expect(run.stdout).to.contain(text);
    }
  });
});
