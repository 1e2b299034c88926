import { openDaaDatabase } from '../../../src/daa/daa-schema.js';

/**
 * Everything the DAA service keeps except the audit log (sessions live in memory), read
 * through a second connection: what "a refusal changes no state" is checked on.
 */
const TABLES = ['tenants', 'authorities', 'devices', 'certificates'] as const;

export function stateSnapshot(stateDir: string): Record<string, string> {
  const db = openDaaDatabase(stateDir);
  try {
    return Object.fromEntries(TABLES.map((table) => [table, JSON.stringify(db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all())]));
  } finally {
    db.close();
  }
}
