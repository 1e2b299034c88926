import { type ImageSigner, signImage } from './image-signing.js';
import {
  type AbiEntry,
  encodeAbiList,
  encodeDebug,
  encodeIdentity,
  encodeU32Section,
} from './metadata-sections.js';
import type { MetadataSection } from './image-package.js';
import { randomGuid } from './guid.js';

/** Everything that describes a signed image apart from its body. */
export interface ImageSpec {
  imageType: number;
  componentId: string;
  /** A fresh random one when omitted: every build is a distinct image. */
  imageId?: string;
  name: string;
  buildDate?: Date;
  /** TP section: 0 none, 1 remove at boot, 2 under development; omitted when undefined. */
  temporaryImage?: number;
  abiDepends?: AbiEntry[];
  abiProvides?: AbiEntry[];
  /** RV section (anti-rollback); omitted when undefined. */
  securityVersion?: number;
  /** Carried after the known sections, byte for byte. */
  extraSections?: MetadataSection[];
}

/** The metadata sections for a spec, in the order the SDK writes them (SG is added by signing). */
export function sectionsFor(spec: ImageSpec): MetadataSection[] {
  const sections: MetadataSection[] = [
    {
      id: 'ID',
      data: encodeIdentity({ imageType: spec.imageType, reserved: 0, componentId: spec.componentId, imageId: spec.imageId ?? randomGuid() }),
    },
    { id: 'DB', data: encodeDebug({ buildDate: spec.buildDate ?? new Date(), name: spec.name }) },
  ];
  if (spec.temporaryImage !== undefined) sections.push({ id: 'TP', data: encodeU32Section(spec.temporaryImage, 'temporary image flag') });
  if (spec.abiDepends?.length) sections.push({ id: 'ND', data: encodeAbiList(spec.abiDepends) });
  if (spec.abiProvides?.length) sections.push({ id: 'NP', data: encodeAbiList(spec.abiProvides) });
  if (spec.securityVersion !== undefined) sections.push({ id: 'RV', data: encodeU32Section(spec.securityVersion, 'security version') });
  sections.push(...(spec.extraSections ?? []));
  return sections;
}

export function buildSignedImage(body: Buffer, spec: ImageSpec, signer: ImageSigner): Buffer {
  return signImage(body, sectionsFor(spec), signer);
}
