import { randomUUID } from 'node:crypto';
import { DaaError, notFound } from './daa-error.js';
import { devicePrefix } from './daa-schema.js';
import { deviceIdentityKey } from './device-identity-key.js';
import { validateReferenceValues, type ReferenceValues } from './reference-values.js';
import { statementCache, type TrackedDatabase, type TrackedStatement } from './tracked-database.js';

/**
 * Tenants, the devices claimed to them, their development-mode policy and
 * reference values. A device is claimed to exactly one tenant; revoking it is
 * final and revokes the certificates issued to it.
 */
export type DevelopmentModePolicy = 'allow' | 'forbid';

export interface TenantRecord {
  id: string;
  name: string;
  developmentMode: DevelopmentModePolicy;
  referenceValues: ReferenceValues | null;
  createdAt: Date;
}

export interface DeviceRecord {
  deviceId: string;
  tenantId: string;
  claimedAt: Date;
  revokedAt: Date | null;
  revokeReason: string | null;
  lastBootCount: number | null;
  lastAttestedAt: Date | null;
  /** Certificates issued to the device, ever. */
  certificatesIssued: number;
}

interface TenantRow {
  id: string;
  name: string;
  development_mode: DevelopmentModePolicy;
  reference_values: string | null;
  created_at: number;
}

interface DeviceRow {
  id: string;
  tenant_id: string;
  claimed_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
  last_boot_count: number | null;
  last_attested_at: number | null;
  certificates_issued: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

export class TenantRegistry {
  readonly #db: TrackedDatabase;
  readonly #sql: (sql: string) => TrackedStatement;
  readonly #now: () => number;
  readonly #parsedReference = new Map<string, { text: string; value: ReferenceValues }>();

  constructor(db: TrackedDatabase, now: () => number) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#now = now;
  }

  insertTenant(params: { name: string; id?: string; developmentMode?: DevelopmentModePolicy }): TenantRecord {
    if (!NAME.test(params.name)) {
      throw new DaaError('tenant-name-invalid', 400, `tenant name '${params.name.slice(0, 120)}' must be 1-100 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit`);
    }
    const id = (params.id ?? randomUUID()).toLowerCase();
    if (!GUID.test(id)) throw new DaaError('tenant-id-invalid', 400, `tenant id '${id.slice(0, 60)}' is not a GUID`);
    if (this.findTenant(id) || this.findTenant(params.name)) throw new DaaError('tenant-exists', 409, `a tenant '${params.name}' or with id ${id} already exists`);
    this.#db
      .prepare('INSERT INTO tenants (id, name, development_mode, created_at) VALUES (?, ?, ?, ?)')
      .run(id, params.name, params.developmentMode ?? 'allow', this.#now());
    return this.tenant(id);
  }

  /** By id or by name. */
  findTenant(ref: string): TenantRecord | undefined {
    const row = this.#sql('SELECT * FROM tenants WHERE id = ? OR name = ?').get(ref.toLowerCase(), ref) as TenantRow | undefined;
    return row && this.#toTenant(row);
  }

  tenant(ref: string): TenantRecord {
    const found = this.findTenant(ref);
    if (!found) throw notFound('tenant', ref.slice(0, 120));
    return found;
  }

  tenants(): TenantRecord[] {
    return (this.#sql('SELECT * FROM tenants ORDER BY created_at, name').all() as TenantRow[]).map((row) => this.#toTenant(row));
  }

  setDevelopmentMode(ref: string, policy: DevelopmentModePolicy): TenantRecord {
    const tenant = this.tenant(ref);
    this.#sql('UPDATE tenants SET development_mode = ? WHERE id = ?').run(policy, tenant.id);
    return this.tenant(tenant.id);
  }

  setReferenceValues(ref: string, document: unknown, source = 'reference values'): ReferenceValues {
    const tenant = this.tenant(ref);
    const value = validateReferenceValues(document, source);
    this.#sql('UPDATE tenants SET reference_values = ? WHERE id = ?').run(JSON.stringify(value), tenant.id);
    return value;
  }

  claim(ref: string, deviceId: string): DeviceRecord {
    const tenant = this.tenant(ref);
    const id = normaliseDeviceId(deviceId);
    const existing = this.findDevice(id);
    if (existing) {
      if (existing.tenantId !== tenant.id) {
        throw new DaaError('device-claimed-elsewhere', 409, `device ${id.slice(0, 16)}... is claimed to another tenant (${existing.tenantId}); a device belongs to exactly one`);
      }
      return existing;
    }
    this.#sql('INSERT INTO devices (id, tenant_id, claimed_at) VALUES (?, ?, ?)').run(id, tenant.id, this.#now());
    return this.device(id);
  }

  revoke(deviceId: string, reason: string | undefined): DeviceRecord {
    const device = this.device(deviceId);
    if (device.revokedAt) return device;
    const now = this.#now();
    this.#db.transaction(() => {
      this.#sql('UPDATE devices SET revoked_at = ?, revoke_reason = ? WHERE id = ?').run(now, reason ?? null, device.deviceId);
      // Its certificates are found through its affirming audit entries (the certificates have no device index).
      this.#sql(
        `UPDATE certificates SET revoked_at = ? WHERE revoked_at IS NULL AND serial IN (
           SELECT certificate_serial FROM audit WHERE substr(device_id, 1, 16) = ? AND device_id = ? AND certificate_serial IS NOT NULL)`,
      ).run(now, devicePrefix(device.deviceId), device.deviceId);
    })();
    return this.device(device.deviceId);
  }

  findDevice(deviceId: string): DeviceRecord | undefined {
    const row = this.#sql('SELECT * FROM devices WHERE id = ?').get(deviceId.toLowerCase()) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  device(deviceId: string): DeviceRecord {
    const found = this.findDevice(deviceId);
    if (!found) throw notFound('device', deviceId.slice(0, 128));
    return found;
  }

  devices(ref: string): DeviceRecord[] {
    const tenant = this.tenant(ref);
    return (this.#sql('SELECT * FROM devices WHERE tenant_id = ? ORDER BY claimed_at').all(tenant.id) as DeviceRow[]).map(toDevice);
  }

  #toTenant(row: TenantRow): TenantRecord {
    return {
      id: row.id,
      name: row.name,
      developmentMode: row.development_mode,
      referenceValues: this.#referenceValues(row),
      createdAt: new Date(row.created_at),
    };
  }

  /** Parsed once per stored text: appraisal reads them on every attestation. */
  #referenceValues(row: TenantRow): ReferenceValues | null {
    if (row.reference_values === null) return null;
    const cached = this.#parsedReference.get(row.id);
    if (cached?.text === row.reference_values) return cached.value;
    const value = JSON.parse(row.reference_values) as ReferenceValues;
    this.#parsedReference.set(row.id, { text: row.reference_values, value });
    return value;
  }
}

/** A device ID as stored: 128 lower-case hex, a point on P-256. */
export function normaliseDeviceId(deviceId: string): string {
  const id = deviceId.trim().toLowerCase();
  if (!/^[0-9a-f]{128}$/.test(id)) throw new DaaError('device-id-invalid', 400, `device ID must be 128 hex characters, got ${JSON.stringify(deviceId.slice(0, 140))}`);
  if (!deviceIdentityKey(id)) throw new DaaError('device-id-invalid', 400, `device ID ${id.slice(0, 16)}... is not a P-256 public key (X || Y)`);
  return id;
}

function toDevice(row: DeviceRow): DeviceRecord {
  return {
    deviceId: row.id,
    tenantId: row.tenant_id,
    claimedAt: new Date(row.claimed_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    revokeReason: row.revoke_reason,
    lastBootCount: row.last_boot_count,
    lastAttestedAt: row.last_attested_at === null ? null : new Date(row.last_attested_at),
    certificatesIssued: row.certificates_issued,
  };
}
