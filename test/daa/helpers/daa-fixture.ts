import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaaClient } from '../../../src/daa/daa-client.js';
import { startDaaServer, type RunningDaaServer } from '../../../src/daa/daa-server.js';
import { DaaService, type DaaServiceOptions, type TenantInfo } from '../../../src/daa/daa-service.js';
import type { ReferenceValues } from '../../../src/daa/reference-values.js';
import type { SimulatedDevice } from './simulated-device.js';

/**
 * A DAA service in a scratch folder, served on loopback with its tokens kept in
 * that folder, and a client carrying the local admin token.
 */
export class DaaFixture {
  private constructor(
    readonly dir: string,
    readonly service: DaaService,
    public server: RunningDaaServer,
    public client: DaaClient,
    readonly adminToken: string,
  ) {}

  static async start(options: Partial<DaaServiceOptions> = {}): Promise<DaaFixture> {
    const dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-'));
    const service = await DaaService.open({ stateDir: dir, ...options });
    const server = await startDaaServer({ service, tokenDir: dir });
    const adminToken = server.adminToken!.token;
    return new DaaFixture(dir, service, server, new DaaClient(server.url, { token: adminToken }), adminToken);
  }

  /** Stops the server and serves the same service again, reading the token file anew; the new server. */
  async restartServer(): Promise<RunningDaaServer> {
    await this.server.close();
    this.server = await startDaaServer({ service: this.service, tokenDir: this.dir });
    this.client = new DaaClient(this.server.url, { token: this.adminToken });
    return this.server;
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.service.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A tenant whose reference values trust exactly what `device` booted, with the device claimed. */
  async tenantFor(device: SimulatedDevice, name = `tenant-${Math.random().toString(36).slice(2, 8)}`): Promise<TenantInfo> {
    const tenant = await this.client.createTenant({ name });
    await this.client.setReferenceValues(tenant.id, referenceFor(device));
    await this.client.claimDevice(tenant.id, device.deviceId);
    return tenant;
  }
}

export function referenceFor(device: SimulatedDevice, floor = 1): ReferenceValues {
  return {
    components: device.measurements().map((m) => ({
      componentId: m.componentId,
      required: true,
      minimumSecurityVersion: floor,
      trustedImageHashes: [m.sha256],
    })),
  };
}
