import { join } from 'node:path';
import { buildCapabilityImage } from '../../src/image/capability-image.js';
import { rawSignerFor, type RawSigner } from '../../src/pki/raw-signer.js';
import { findSigningRole, loadSigningRoles, type RoleKeys, type SigningRole } from '../../src/pki/signing-roles.js';
import { keystoreBodyFor } from '../../src/firmware/rig-keystore.js';
import { buildOsImageSet } from '../../src/firmware/os-image-set.js';
import { buildSampleApp, type SampleAppSpec } from '../../src/firmware/sample-app.js';

/** The signing keys of an emulator state folder, and builders that use them. */
export class RigKeys {
  private constructor(readonly roles: RoleKeys[]) {}

  static async of(stateDir: string): Promise<RigKeys> {
    return new RigKeys(await loadSigningRoles(join(stateDir, 'keys')));
  }

  signer(role: SigningRole): RawSigner {
    return rawSignerFor(findSigningRole(this.roles, role));
  }

  osSet(osVersion: string, securityVersion: number): Buffer[] {
    return buildOsImageSet({ osVersion, securityVersion, keystorePem: keystoreBodyFor(this.roles, true) }, this.signer('os')).map((i) => i.bytes);
  }

  app(spec: SampleAppSpec, role: SigningRole = 'production-app'): Buffer {
    return buildSampleApp(spec, this.signer(role));
  }

  capability(deviceId: string, capabilities: number[]): Buffer {
    return buildCapabilityImage({ deviceId, capabilities }, this.signer('capability'));
  }
}

export const b64 = (images: Buffer[]): string[] => images.map((i) => i.toString('base64'));
