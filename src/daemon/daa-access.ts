import type { DaaService } from '../daa/daa-service.js';
import type { DaaAccess } from '../scenario/run-context.js';
import type { ReferenceValues } from '../daa/reference-values.js';
import { SYSTEM_COMPONENT_IDS } from '../firmware/os-image-set.js';

/** What scenario steps may do with the daemon's own DAA service. */
export function daaAccess(service: DaaService): DaaAccess {
  return {
    verifyChain: async (chainPem) => {
      const verdict = service.verifyPresentedChain({ chainPem });
      return { valid: verdict.valid, deviceId: verdict.deviceId, tenant: verdict.tenant, notAfter: verdict.notAfter, problems: verdict.problems.map((p) => `${p.code}: ${p.detail}`) };
    },
    setImageTrust: async (tenant, componentId, imageSha256, trusted) => {
      const current = service.referenceValues(tenant) ?? { components: [] };
      const next: ReferenceValues = structuredClone(current);
      let component = next.components.find((c) => c.componentId === componentId.toLowerCase());
      if (!component) {
        component = { componentId: componentId.toLowerCase() };
        next.components.push(component);
      }
      const untrusted = new Set(component.untrustedImageHashes ?? []);
      if (trusted) untrusted.delete(imageSha256.toLowerCase());
      else untrusted.add(imageSha256.toLowerCase());
      component.untrustedImageHashes = [...untrusted];
      service.setReferenceValues(tenant, next, 'set-os-trust step');
    },
  };
}

/**
 * The reference values a rig tenant starts with: every system component of the
 * emulator's OS must be present, any image of it is trusted (the device's own
 * secure boot checks signatures), no security version floor beyond 1.
 */
export function defaultReferenceValues(): ReferenceValues {
  return {
    allowUnlistedComponents: false,
    components: Object.entries(SYSTEM_COMPONENT_IDS).map(([, componentId]) => ({ componentId, required: true, minimumSecurityVersion: 1 })),
  };
}
