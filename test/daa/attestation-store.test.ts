import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAttestationStore } from '../../src/daa/attestation-store.js';
import { openDaaDatabase } from '../../src/daa/daa-schema.js';

/** The storage thread of the DAA service: how it commits, and how it fails. */
describe('DAA attestation store (storage thread)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('commits a batch on its own connection, one outcome per item, visible to the service connection once answered', async () => {
    const db = openDaaDatabase(dir);
    const store = await openAttestationStore(dir, db);
    try {
      const entry = { at: 1, sessionId: 's', deviceId: null, tenant: null, verdict: 'refused' as const, reasons: [] };
      const outcomes = await store.commit([{ kind: 'refusal', entry }, { kind: 'refusal', entry: { ...entry, sessionId: 't' } }]);
      expect(outcomes).to.deep.equal([
        { ok: true, value: { recorded: true } },
        { ok: true, value: { recorded: true } },
      ]);
      expect(db.prepare('SELECT session_id AS s FROM audit ORDER BY id').all()).to.deep.equal([{ s: 's' }, { s: 't' }]);
    } finally {
      await store.close();
      db.close();
    }
  });

  it('fails to open, saying why, when the storage thread cannot open the database', async () => {
    const db = openDaaDatabase(dir);
    const notAFolder = join(dir, 'file');
    writeFileSync(notAFolder, 'x');
    try {
      const error = await openAttestationStore(notAFolder, db).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(error?.code).to.equal('daa-storage-stopped');
      expect(error?.message).to.match(/storage thread stopped: .*file: cannot open the DAA database/);
    } finally {
      db.close();
    }
  });
});
