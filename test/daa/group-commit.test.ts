import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchTransaction } from '../../src/daa/batch-transaction.js';
import { GroupCommit, type GroupCommitOptions } from '../../src/daa/group-commit.js';
import { openSqliteFile, type SqliteDatabase } from '../../src/util/sqlite-file.js';

/**
 * Group commit on its own: writes queued together share one transaction, each
 * is undone alone if it throws, promises settle only once the batch is durable
 * (another connection sees the rows), and close() commits what is queued.
 */
describe('DAA group commit', () => {
  let dir: string;
  let db: SqliteDatabase;
  let reader: SqliteDatabase;
  /** Items are closures run in the batch's transaction, each in its savepoint. */
  const groupCommit = (options: Omit<GroupCommitOptions<() => unknown, unknown>, 'commit'>) =>
    new GroupCommit({ ...options, commit: batchTransaction(db, (write: () => unknown) => write()) });
  const rows = () => (reader.prepare('SELECT v FROM t ORDER BY v').all() as Array<{ v: number }>).map((r) => r.v);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-group-commit-'));
    db = openSqliteFile(join(dir, 'db.sqlite'), { name: 'test database', migrations: [] });
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    reader = openSqliteFile(join(dir, 'db.sqlite'), { name: 'test database', migrations: [] });
  });
  afterEach(() => {
    reader.close();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits the writes of one turn in one transaction, and resolves only once another connection sees them', async () => {
    const commits = groupCommit({ maxItems: 100, maxDelayMs: 0 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const written = [1, 2, 3].map((v) => commits.enqueue(() => insert.run(v).changes));
    expect(commits.pending).to.equal(3);
    expect(rows(), 'nothing is visible before the commit').to.deep.equal([]);
    const seenAtResolution = await Promise.all(written.map((p) => p.then(() => rows())));
    expect(seenAtResolution).to.deep.equal([[1, 2, 3], [1, 2, 3], [1, 2, 3]]);
    expect(commits.batches).to.equal(1);
  });

  it('undoes a write that throws, alone: the others commit and its promise rejects', async () => {
    const commits = groupCommit({ maxItems: 100, maxDelayMs: 0 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const ok = commits.enqueue(() => insert.run(1));
    const bad = commits.enqueue(() => {
      insert.run(2);
      insert.run(1); // PRIMARY KEY conflict: the savepoint undoes the insert of 2 as well
    });
    const after = commits.enqueue(() => insert.run(3));
    await ok;
    await after;
    const error = await bad.then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).to.match(/UNIQUE|PRIMARY KEY|constraint/i);
    expect(rows()).to.deep.equal([1, 3]);
  });

  it('flushes at once when a batch is full, and after maxDelayMs otherwise', async () => {
    const commits = groupCommit({ maxItems: 2, maxDelayMs: 20 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    void commits.enqueue(() => insert.run(1));
    void commits.enqueue(() => insert.run(2));
    expect(rows(), 'the second write filled the batch').to.deep.equal([1, 2]);
    const third = commits.enqueue(() => insert.run(3));
    await new Promise((resolve) => setImmediate(resolve));
    expect(rows(), 'still waiting for company').to.deep.equal([1, 2]);
    await third;
    expect(rows()).to.deep.equal([1, 2, 3]);
  });

  it('commits what is queued on close(), then refuses new writes', async () => {
    const commits = groupCommit({ maxItems: 100, maxDelayMs: 60_000 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const queued = commits.enqueue(() => insert.run(7));
    await commits.close();
    db.close();
    await queued;
    expect(rows()).to.deep.equal([7]);
    const refused = await commits.enqueue(() => insert.run(8)).then(() => undefined, (e: unknown) => e as Error);
    expect(refused?.message).to.match(/closed/);
  });

  it('fails every write of a batch that cannot commit, including those that ran', async () => {
    // A deferred foreign key is checked at COMMIT: each write succeeds in its savepoint, the batch cannot commit.
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
    const commits = groupCommit({ maxItems: 100, maxDelayMs: 60_000 });
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const orphan = db.prepare('INSERT INTO child (parent_id) VALUES (99)');
    const first = commits.enqueue(() => insert.run(1));
    const second = commits.enqueue(() => orphan.run());
    commits.flush();
    const outcomes = await Promise.allSettled([first, second]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
    expect(rows()).to.deep.equal([]);
    // The connection is usable again.
    const again = commits.enqueue(() => insert.run(2));
    commits.flush();
    await again;
    expect(rows()).to.deep.equal([2]);
  });
});
