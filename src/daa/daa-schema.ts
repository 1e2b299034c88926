import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteFile, SqliteStateError, type SchemaMigration } from '../util/sqlite-file.js';
import { DaaError } from './daa-error.js';

/**
 * The DAA service keeps everything in one SQLite file, `<state>/daa.sqlite`
 * (mode of the folder: the CA private keys live in it). Migrations are plain SQL
 * steps, numbered; `PRAGMA user_version` records the last one applied. A step is
 * never changed in what it does once shipped: a change is a new step (step 4's
 * backfill was only made to use an index; its result is the same).
 */
export const DAA_DATABASE_FILE = 'daa.sqlite';

const STEPS: readonly string[] = [
  // 1: the first schema
  `
  CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    development_mode TEXT NOT NULL CHECK (development_mode IN ('allow', 'forbid')),
    reference_values TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE authorities (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('root', 'intermediate', 'tenant')),
    tenant_id TEXT REFERENCES tenants(id),
    generation INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive', 'Revoked')),
    thumbprint TEXT NOT NULL UNIQUE,
    serial TEXT NOT NULL,
    subject TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    cert_der BLOB NOT NULL,
    key_pem TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    crl_number INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX authorities_tenant ON authorities(tenant_id);
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    claimed_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoke_reason TEXT,
    last_boot_count INTEGER,
    last_attested_at INTEGER
  );
  CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    authority_id INTEGER NOT NULL REFERENCES authorities(id),
    key_sha256 TEXT NOT NULL UNIQUE,
    evidence_sha256 TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    revoked_at INTEGER,
    der BLOB NOT NULL
  );
  CREATE INDEX certificates_device ON certificates(device_id);
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    session_id TEXT,
    device_id TEXT,
    tenant_id TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('affirming', 'refused')),
    reasons TEXT NOT NULL,
    certificate_serial TEXT,
    evidence_sha256 TEXT
  );
  CREATE INDEX audit_device ON audit(device_id);
  `,
  // 2: the device indexes of the audit log and the certificates on a 16-hex prefix of the device ID
  // (64 bits of a curve coordinate) instead of all 128 characters: every attestation adds to both,
  // one leaf page per device, and entries an eighth the size dirty and split far fewer pages.
  // Lookups filter on the prefix, then on the whole ID (see devicePrefix).
  `
  DROP INDEX audit_device;
  DROP INDEX certificates_device;
  CREATE INDEX audit_device_prefix ON audit(substr(device_id, 1, 16));
  CREATE INDEX certificates_device_prefix ON certificates(substr(device_id, 1, 16));
  `,
  // 3: a counter of the changes to what appraisal reads (tenants, devices, CAs, reference values),
  // moved by every such write and by none of the attestation writes: the service caches those reads
  // and reloads them when it moves (see appraisal-cache.ts and tracked-database.ts).
  `
  CREATE TABLE appraisal_generation (value INTEGER NOT NULL);
  INSERT INTO appraisal_generation (value) VALUES (0);
  `,
  // 4: no device index on the certificates. It was a random page written at every commit for each
  // attestation in it, for two rare reads: the device's certificate count, now a counter on its row
  // (which the attestation updates anyway), and revoking a device's certificates, now found through
  // the audit log's device index (every certificate has its affirming audit entry).
  `
  ALTER TABLE devices ADD COLUMN certificates_issued INTEGER NOT NULL DEFAULT 0;
  -- The prefix condition lets the count use certificates_device_prefix (still there until the DROP below);
  -- without it each device scanned the whole table (3.6 s for 200k certificates, under the write lock).
  UPDATE devices SET certificates_issued = (
    SELECT COUNT(*) FROM certificates WHERE substr(certificates.device_id, 1, 16) = substr(devices.id, 1, 16) AND certificates.device_id = devices.id);
  DROP INDEX certificates_device_prefix;
  `,
];

const MIGRATIONS: readonly SchemaMigration[] = STEPS.map((sql, index) => ({ version: index + 1, up: (db) => void db.exec(sql) }));

/** The indexed prefix of a device ID: queries by device say `substr(device_id, 1, 16) = ? AND device_id = ?`. */
export function devicePrefix(deviceId: string): string {
  return deviceId.slice(0, 16);
}

export const DAA_SCHEMA_VERSION = MIGRATIONS.length;

/** 40 MB of 4 KiB pages; the file is truncated back to WAL_SIZE_LIMIT_BYTES after a checkpoint. */
const WAL_CHECKPOINT_PAGES = 10_000;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
const PRAGMAS = [
  // Checkpoint every WAL_CHECKPOINT_PAGES rather than 1000: attestations rewrite the same index
  // leaves commit after commit, and a checkpoint copies each page once however often the WAL has it.
  `wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`,
  `journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`,
];

/**
 * Opens `<stateDir>/daa.sqlite` (or an in-memory database for `:memory:`), migrated to the current schema.
 * Failures are DaaErrors naming the state folder: `daa-state-unreadable`, `daa-state-too-new`.
 */
export function openDaaDatabase(stateDir: string): Database.Database {
  const inMemory = stateDir === ':memory:';
  try {
    if (!inMemory) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    return openSqliteFile(inMemory ? stateDir : join(stateDir, DAA_DATABASE_FILE), { name: 'DAA database', migrations: MIGRATIONS, pragmas: PRAGMAS });
  } catch (error) {
    throw daaStateError(stateDir, error);
  }
}

function daaStateError(stateDir: string, error: unknown): DaaError {
  if (error instanceof SqliteStateError && error.code === 'state-file-too-new') {
    return new DaaError('daa-state-too-new', 500, `${stateDir}: the DAA database is at schema ${String(error.details.version)}; this sphere-rig knows up to ${String(error.details.known)}`);
  }
  // SQLite's own error (or the file system's) as the cause, as before the opener was shared.
  const cause = error instanceof SqliteStateError ? error.cause : error;
  return new DaaError('daa-state-unreadable', 500, `${stateDir}: cannot open the DAA database (${(cause as Error).message})`, { stateDir }, { cause });
}
