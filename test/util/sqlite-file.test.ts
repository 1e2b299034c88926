import Database from 'better-sqlite3';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { openSqliteFile, SqliteStateError, type SchemaMigration } from '../../src/util/sqlite-file.js';

/**
 * The one SQLite opener (run store, event log, DAA database): files it must
 * refuse are refused with the file named and left as they were; migrations run
 * once each, in version order, each in its own transaction.
 */
describe('SQLite state files', () => {
  let dir: string;
  let path: string;
  /** The versions whose step ran; step N creates table tN. */
  let ran: number[];
  const step = (version: number): SchemaMigration => ({
    version,
    up: (db) => {
      ran.push(version);
      db.exec(`CREATE TABLE t${version} (v INTEGER)`);
    },
  });
  const open = (migrations: readonly SchemaMigration[], extra: { pragmas?: string[] } = {}) => openSqliteFile(path, { name: 'test store', migrations, ...extra });
  const refusal = (fn: () => unknown): SqliteStateError => {
    try {
      fn();
    } catch (error) {
      expect(error).to.be.instanceOf(SqliteStateError);
      return error as SqliteStateError;
    }
    throw new Error('expected the file to be refused');
  };
  const userVersion = () => {
    const raw = new Database(path, { readonly: true });
    try {
      return raw.pragma('user_version', { simple: true });
    } finally {
      raw.close();
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-sqlite-'));
    path = join(dir, 'state', 'store.sqlite');
    ran = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the folder and the file in WAL mode, runs the migrations in version order, and each once', () => {
    const db = open([step(3), step(1), step(2)], { pragmas: ['wal_autocheckpoint = 10000'] });
    expect(ran).to.deep.equal([1, 2, 3]);
    expect(db.pragma('user_version', { simple: true })).to.equal(3);
    expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
    expect(db.pragma('foreign_keys', { simple: true })).to.equal(1);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).to.equal(10000);
    db.close();
    ran = [];
    open([step(1), step(2), step(3)]).close();
    expect(ran, 'nothing runs again').to.deep.equal([]);
    open([step(1), step(2), step(3), step(4)]).close();
    expect(ran, 'only the new step').to.deep.equal([4]);
    expect(userVersion()).to.equal(4);
  });

  it('refuses a file from a newer version, naming it, and leaves it as it was', () => {
    open([step(1), step(2)]).close();
    const error = refusal(() => open([step(1)]));
    expect(error.code).to.equal('state-file-too-new');
    expect(error.failureClass).to.equal('infra-error');
    expect(error.message).to.include(path).and.include('test store').and.include('schema version 2').and.include('up to 1');
    expect(error.details).to.include({ path, version: 2, known: 1 });
    expect(userVersion()).to.equal(2);
  });

  it('refuses a file that is not SQLite, naming it, without touching it', () => {
    const junk = Buffer.from('this is not a database, only junk bytes\n'.repeat(200));
    mkdirSync(dirname(path));
    writeFileSync(path, junk);
    const error = refusal(() => open([step(1)]));
    expect(error.code).to.equal('state-file-unreadable');
    expect(error.message).to.include(path).and.include('test store').and.match(/not a database/);
    expect(readFileSync(path).equals(junk)).to.equal(true);
    expect(ran).to.deep.equal([]);
  });

  it('refuses a path it cannot open, naming it', () => {
    writeFileSync(join(dir, 'state'), 'a file where the folder should be');
    const error = refusal(() => open([step(1)]));
    expect(error.code).to.equal('state-file-unreadable');
    expect(error.message).to.include(path);
  });

  it('leaves the version before a migration that throws, and nothing of that step', () => {
    open([step(1)]).close();
    const failing: SchemaMigration = {
      version: 2,
      up: (db) => {
        db.exec('CREATE TABLE half_done (v INTEGER); INSERT INTO t1 (v) VALUES (7)');
        throw new Error('interrupted');
      },
    };
    const error = refusal(() => open([step(1), failing, step(3)]));
    expect(error.code).to.equal('state-file-unreadable');
    expect(error.message).to.include(path).and.include('interrupted');
    expect(userVersion()).to.equal(1);
    ran = [];
    const db = open([step(1)]);
    expect(ran).to.deep.equal([]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()).to.deep.equal([{ name: 't1' }]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t1').get()).to.deep.equal({ n: 0 });
    db.close();
  });

  it('lets two processes upgrade the same old file at once: the second skips the steps the first applied', async function () {
    this.timeout(60_000);
    open([step(1)]).close();
    // Each process reads the old version, waits for "go", then migrates; step 2 is slow so that both are at it together.
    const script = join(dir, 'upgrade.mts');
    writeFileSync(
      script,
      `import { openSqliteFile } from ${JSON.stringify(new URL('../../src/util/sqlite-file.ts', import.meta.url).href)};
const step = (version, slowMs = 0) => ({ version, up: (db) => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs); db.exec('CREATE TABLE t' + version + ' (v INTEGER)'); } });
process.stdin.once('data', () => {
  try {
    openSqliteFile(${JSON.stringify(path)}, { name: 'race store', busyTimeoutMs: 20000, migrations: [step(1), step(2, 1000), step(3)] }).close();
    console.log('ok');
  } catch (error) {
    console.log('error: ' + error.message);
  }
  process.stdin.destroy();
});
console.log('ready');
`,
    );
    const upgrades = [0, 1].map(() => spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const lines = upgrades.map((child) => createInterface({ input: child.stdout! })[Symbol.asyncIterator]());
    for (const line of lines) expect((await line.next()).value).to.equal('ready');
    for (const child of upgrades) child.stdin!.write('go\n');
    const results = await Promise.all(lines.map(async (line) => (await line.next()).value as string));
    expect(results).to.deep.equal(['ok', 'ok']);
    expect(userVersion()).to.equal(3);
  });

  it('refuses a migration list with a gap or a duplicate, running none of it', () => {
    expect(() => open([step(1), step(2), step(4)])).to.throw("the test store's migrations must be numbered 1..3 once each, got 1, 2, 4");
    expect(() => open([step(1), step(2), step(2)])).to.throw('got 1, 2, 2');
    expect(ran).to.deep.equal([]);
  });

  it('opens :memory: with its migrations', () => {
    const db = openSqliteFile(':memory:', { name: 'test store', migrations: [step(1), step(2)] });
    expect(ran).to.deep.equal([1, 2]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t2').get()).to.deep.equal({ n: 0 });
    db.close();
  });
});
