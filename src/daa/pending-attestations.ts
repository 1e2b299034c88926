/**
 * Affirming attestations appraised but whose batch has not committed yet (see
 * group-commit.ts): what they will write, for the checks of the attestations
 * appraised meanwhile. Without it, two evidences binding the same key could
 * both pass the reused-key check, and a device's boot counter could go back
 * between two attestations of one batch. Checks read this, then the database.
 */
export class PendingAttestations {
  readonly #keys = new Set<string>();
  /** Per device: the highest boot count pending, and how many attestations are. */
  readonly #devices = new Map<string, { bootCount: number; count: number }>();

  add(keySha256: string, deviceId: string, bootCount: number): void {
    this.#keys.add(keySha256);
    const device = this.#devices.get(deviceId);
    if (device) {
      device.bootCount = Math.max(device.bootCount, bootCount);
      device.count++;
    } else this.#devices.set(deviceId, { bootCount, count: 1 });
  }

  /** Once the batch committed (the database now has it) or failed (it never will). */
  settle(keySha256: string, deviceId: string): void {
    this.#keys.delete(keySha256);
    const device = this.#devices.get(deviceId);
    if (device && --device.count === 0) this.#devices.delete(deviceId);
  }

  keyPending(keySha256: string): boolean {
    return this.#keys.has(keySha256);
  }

  /** The boot count the device's pending attestations will record; undefined when it has none. */
  bootCount(deviceId: string): number | undefined {
    return this.#devices.get(deviceId)?.bootCount;
  }
}
