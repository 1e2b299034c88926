import type Database from 'better-sqlite3';
import type { AuthorityRecord, LocalPki } from './local-pki.js';
import type { DeviceRecord, TenantRecord, TenantRegistry } from './tenant-registry.js';

/**
 * What appraisal reads of the database (the device, its tenant, the tenant's
 * active CA), kept in memory between requests. In WAL mode each of those reads
 * is its own read transaction, lock and unlock; together they cost about as
 * much as the signature check. What it answers is never older than this:
 * - `refresh()`, called at the start of every request, empties it when the
 *   appraisal generation moved (schema step 3: every write to tenants,
 *   devices, CAs or reference values moves it, in this process or another,
 *   such as the CLI working on the state folder directly; attestation writes
 *   do not, so the storage thread's commits keep the cache). That check is
 *   itself a read transaction, so it is made once per event-loop turn: a
 *   change committed elsewhere applies from the next turn, a few milliseconds
 *   at most, as if it had been committed that much later. Revocation does not
 *   even wait for that: the commit of an attestation re-checks the device row
 *   in the same write transaction (attestation-records.ts);
 * - `invalidate()` empties it at the next refresh; the registry and the PKI
 *   call it on every write they make in this process (trackWrites);
 * - the verifier's own writes to a device (boot count, last attestation) are
 *   applied to the cached record by `attested()` once committed, and the
 *   verifier invalidates the cache when a commit fails or refuses late.
 */
export class AppraisalCache {
  readonly #registry: TenantRegistry;
  readonly #pki: LocalPki;
  readonly #generation: Database.Statement;
  readonly #devices = new Map<string, DeviceRecord | null>();
  readonly #tenants = new Map<string, TenantRecord | null>();
  readonly #authorities = new Map<string, AuthorityRecord | null>();
  #seenGeneration: number | undefined;
  #stale = true;
  #checkedThisTurn = false;

  constructor(db: Database.Database, registry: TenantRegistry, pki: LocalPki) {
    this.#registry = registry;
    this.#pki = pki;
    this.#generation = db.prepare('SELECT value FROM appraisal_generation');
  }

  /** Empties the cache if this process or another has changed the database since it was filled. */
  refresh(): void {
    if (!this.#checkedThisTurn) {
      this.#checkedThisTurn = true;
      setImmediate(() => (this.#checkedThisTurn = false));
      const generation = (this.#generation.get() as { value: number }).value;
      if (generation !== this.#seenGeneration) this.#stale = true;
      this.#seenGeneration = generation;
    }
    if (!this.#stale) return;
    this.#devices.clear();
    this.#tenants.clear();
    this.#authorities.clear();
    this.#stale = false;
  }

  invalidate(): void {
    this.#stale = true;
  }

  device(deviceId: string): DeviceRecord | undefined {
    return cached(this.#devices, deviceId, () => this.#registry.findDevice(deviceId));
  }

  /** Throws (not found) for an unknown tenant, as the registry does. */
  tenant(tenantId: string): TenantRecord {
    return cached(this.#tenants, tenantId, () => this.#registry.tenant(tenantId))!;
  }

  activeAuthority(tenantId: string): AuthorityRecord | undefined {
    return cached(this.#authorities, tenantId, () => this.#pki.activeTenantAuthority(tenantId));
  }

  /** The verifier's attestation of the device has committed. */
  attested(deviceId: string, bootCount: number, at: number): void {
    const device = this.#devices.get(deviceId);
    if (!device) return;
    device.lastBootCount = bootCount;
    device.lastAttestedAt = new Date(at);
  }
}

/** The map's entry for `key`, loaded once; null records that there is none, so absence is cached too. */
function cached<V>(map: Map<string, V | null>, key: string, load: () => V | undefined): V | undefined {
  let value = map.get(key);
  if (value === undefined) {
    value = load() ?? null;
    map.set(key, value);
  }
  return value ?? undefined;
}
