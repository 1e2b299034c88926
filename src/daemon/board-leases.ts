import { RigError } from '../util/failure.js';

/**
 * Who holds each board. A board runs one scenario at a time: a run takes the
 * board's lease for its duration; an operator (or a lab script) may also hold a
 * board by hand, with a time-to-live it must renew, so a client that vanishes
 * never keeps a board forever.
 */
export interface Lease {
  boardId: string;
  holder: string;
  /** `run` leases end with their run; `manual` leases expire unless renewed. */
  kind: 'run' | 'manual';
  acquiredAt: number;
  expiresAt: number | null;
}

export class LeaseConflict extends RigError {
  constructor(boardId: string, holder: string) {
    super('infra-error', 'board-leased', `board ${boardId} is leased by ${holder}`, { boardId, holder });
  }
}

export class BoardLeases {
  readonly #leases = new Map<string, Lease>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The live lease of a board, dropping it first if it has expired. */
  get(boardId: string): Lease | undefined {
    const lease = this.#leases.get(boardId);
    if (lease?.expiresAt !== null && lease !== undefined && lease.expiresAt <= this.now()) {
      this.#leases.delete(boardId);
      return undefined;
    }
    return lease;
  }

  isFree(boardId: string): boolean {
    return this.get(boardId) === undefined;
  }

  acquire(boardId: string, holder: string, kind: Lease['kind'], ttlMs?: number): Lease {
    const current = this.get(boardId);
    if (current && current.holder !== holder) throw new LeaseConflict(boardId, current.holder);
    const lease: Lease = { boardId, holder, kind, acquiredAt: this.now(), expiresAt: ttlMs === undefined ? null : this.now() + ttlMs };
    this.#leases.set(boardId, lease);
    return lease;
  }

  renew(boardId: string, holder: string, ttlMs: number): Lease {
    const current = this.get(boardId);
    if (!current || current.holder !== holder) throw new RigError('infra-error', 'lease-not-held', `board ${boardId} is not leased by ${holder}`);
    current.expiresAt = this.now() + ttlMs;
    return current;
  }

  release(boardId: string, holder: string): void {
    const current = this.#leases.get(boardId);
    if (current && current.holder === holder) this.#leases.delete(boardId);
  }
}
