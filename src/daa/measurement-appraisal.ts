import type { Measurement } from './protocol.js';
import type { ComponentReference, ReferenceValues } from './reference-values.js';
import { refusal, type RefusalReason } from './refusal-reasons.js';

/**
 * Compares what a device measured at boot with its tenant's reference values.
 * Every finding is reported, not only the first, so an operator sees at once
 * everything that keeps a device from attesting.
 */
export function appraiseMeasurements(measurements: readonly Measurement[], reference: ReferenceValues): RefusalReason[] {
  const reasons: RefusalReason[] = [];
  const byComponent = componentsOf(reference);
  const seen = new Set<string>();
  for (const measured of measurements) {
    const componentId = measured.componentId.toLowerCase();
    const imageId = measured.imageId.toLowerCase();
    const sha256 = measured.sha256.toLowerCase();
    const what = () => `image ${imageId} of component ${componentId}`;
    seen.add(componentId);
    const component = byComponent.get(componentId);
    if (!component) {
      if (!reference.allowUnlistedComponents) reasons.push(refusal('component-unknown', `component ${componentId} (image type ${measured.imageType}) is not in the reference values`));
      continue;
    }
    if (component.untrustedImageHashes?.includes(sha256) || component.untrustedImageIds?.includes(imageId)) {
      reasons.push(refusal('image-untrusted', `${what()} (sha256 ${sha256}) is marked untrusted`));
      continue;
    }
    const listsImages = (component.trustedImageHashes?.length ?? 0) + (component.trustedImageIds?.length ?? 0) > 0;
    if (listsImages && !component.trustedImageHashes?.includes(sha256) && !component.trustedImageIds?.includes(imageId)) {
      reasons.push(refusal('image-unknown', `${what()} (sha256 ${sha256}) is not a trusted image`));
    }
    const floor = component.minimumSecurityVersion ?? 0;
    if (measured.securityVersion < floor) {
      reasons.push(refusal('security-version-below-floor', `${what()} has security version ${measured.securityVersion}; the floor is ${floor}`));
    }
  }
  for (const component of reference.components) {
    if (component.required && !seen.has(component.componentId)) {
      reasons.push(refusal('component-missing', `required component ${component.componentId}${component.name ? ` (${component.name})` : ''} was not measured`));
    }
  }
  return reasons;
}

/** The components of a reference-values document by ID; made once per document (the registry parses each once). */
const componentMaps = new WeakMap<ReferenceValues, Map<string, ComponentReference>>();

function componentsOf(reference: ReferenceValues): Map<string, ComponentReference> {
  let map = componentMaps.get(reference);
  if (!map) {
    map = new Map(reference.components.map((c) => [c.componentId, c]));
    componentMaps.set(reference, map);
  }
  return map;
}
