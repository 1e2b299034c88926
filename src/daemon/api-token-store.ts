import { Ajv } from 'ajv';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../util/failure.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/**
 * API tokens of the daemon, kept in one JSON file in its state folder (mode 0600).
 * A token is `srt_<id>_<secret>`: the id finds the entry, the secret is checked
 * against a salted SHA-256. The secret is 256 random bits, so no password hashing
 * (scrypt) is needed against guessing, and checking stays cheap on every request.
 * The token itself is returned once, at creation, and never stored.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiTokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
}

interface StoredToken extends ApiTokenInfo {
  salt: string;
  hash: string;
}

interface TokenFile {
  format: 'sphere-rig/api-tokens';
  version: 1;
  tokens: StoredToken[];
}

const TOKEN_PATTERN = /^srt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

const FILE_SCHEMA = {
  type: 'object',
  required: ['format', 'version', 'tokens'],
  properties: {
    format: { const: 'sphere-rig/api-tokens' },
    version: { const: 1 },
    tokens: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'role', 'createdAt', 'salt', 'hash'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[0-9a-f]{12}$' },
          name: { type: 'string' },
          role: { enum: [...ROLES] },
          createdAt: { type: 'string' },
          salt: { type: 'string', pattern: '^[0-9a-f]{32}$' },
          hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        },
      },
    },
  },
} as const;

const validateFile = new Ajv({ allErrors: false, strict: true }).compile<TokenFile>(FILE_SCHEMA);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Events of the store: `revoked` (token id) once a token stops being valid,
 * whether `revoke` removed it or `reload` found it gone from the file, so
 * holders of long-lived connections opened with it can close them.
 */
export interface ApiTokenStoreEvents {
  revoked: [tokenId: string];
}

export class ApiTokenStore extends EventEmitter<ApiTokenStoreEvents> {
  private tokens: StoredToken[] = [];

  private constructor(readonly path: string) {
    super();
  }

  /** Loads the token file (an absent file is an empty store). */
  static open(path: string): ApiTokenStore {
    const store = new ApiTokenStore(path);
    store.reload();
    return store;
  }

  /** Re-reads the file, e.g. after another process changed it. */
  reload(): void {
    if (!existsSync(this.path)) {
      this.replaceTokens([]);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      throw new InputError('token-file-unreadable', `${this.path}: not a readable JSON token file: ${(error as Error).message}`, { path: this.path }, { cause: error });
    }
    if (!validateFile(parsed)) {
      const first = validateFile.errors?.[0];
      throw new InputError('token-file-invalid', `${this.path}: ${first?.instancePath || '/'} ${first?.message ?? 'is not valid'}`, { path: this.path });
    }
    this.replaceTokens(parsed.tokens);
  }

  /** Creates a token; `token` is the only time its secret is seen. */
  create(name: string, role: Role): { token: string; info: ApiTokenInfo } {
    if (!isRole(role)) throw new InputError('bad-role', `role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new InputError('bad-token-name', 'a token name is 1 to 200 characters');
    let id: string;
    do id = randomBytes(6).toString('hex');
    while (this.tokens.some((t) => t.id === id));
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16).toString('hex');
    const stored: StoredToken = { id, name, role, createdAt: new Date().toISOString(), salt, hash: hashSecret(salt, secret) };
    this.tokens = [...this.tokens, stored];
    this.save();
    return { token: `srt_${id}_${secret}`, info: infoOf(stored) };
  }

  list(): ApiTokenInfo[] {
    return this.tokens.map(infoOf);
  }

  /** Removes a token; false if there was none with that id. */
  revoke(id: string): boolean {
    const kept = this.tokens.filter((t) => t.id !== id);
    if (kept.length === this.tokens.length) return false;
    this.tokens = kept;
    this.save();
    this.announceRevoked([id]);
    return true;
  }

  /** The token's entry, or null for anything that is not a valid, known token. */
  verify(token: string): ApiTokenInfo | null {
    const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
    if (!match) return null;
    const stored = this.tokens.find((t) => t.id === match[1]);
    if (!stored) return null;
    const expected = Buffer.from(stored.hash, 'hex');
    const actual = Buffer.from(hashSecret(stored.salt, match[2]!), 'hex');
    return timingSafeEqual(expected, actual) ? infoOf(stored) : null;
  }

  /** Takes a new token list, announcing the tokens it no longer has. */
  private replaceTokens(tokens: StoredToken[]): void {
    const kept = new Set(tokens.map((t) => t.id));
    const gone = this.tokens.filter((t) => !kept.has(t.id)).map((t) => t.id);
    this.tokens = tokens;
    this.announceRevoked(gone);
  }

  /** A listener's fault must not undo or fail a revocation that already happened. */
  private announceRevoked(ids: string[]): void {
    for (const id of ids) {
      for (const listener of this.rawListeners('revoked')) {
        try {
          (listener as (tokenId: string) => void).call(this, id);
        } catch {
          // the token is revoked whatever a listener does
        }
      }
    }
  }

  private save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const file: TokenFile = { format: 'sphere-rig/api-tokens', version: 1, tokens: this.tokens };
    writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
  }
}

/**
 * The default local set-up: make sure an admin token exists and sits in
 * `tokenFile` (mode 0600) for the local CLI and for printing at first start.
 * Returns the token in the file, a new one if the file was missing or stale.
 */
export function ensureLocalAdminToken(store: ApiTokenStore, tokenFile: string): { token: string; path: string; created: boolean } {
  if (existsSync(tokenFile)) {
    const token = readFileSync(tokenFile, 'utf8').trim();
    const info = store.verify(token);
    if (info?.role === 'admin') {
      chmodSync(tokenFile, 0o600);
      return { token, path: tokenFile, created: false };
    }
  }
  const { token } = store.create('local-admin', 'admin');
  mkdirSync(dirname(tokenFile), { recursive: true });
  writeFileAtomic(tokenFile, `${token}\n`, 0o600);
  return { token, path: tokenFile, created: true };
}

function hashSecret(salt: string, secret: string): string {
  return createHash('sha256').update(salt, 'hex').update(secret, 'utf8').digest('hex');
}

function infoOf(stored: StoredToken): ApiTokenInfo {
  return { id: stored.id, name: stored.name, role: stored.role, createdAt: stored.createdAt };
}
