import { buildCapabilityImage } from '../../image/capability-image.js';
import { parseImagePackage, readImageFacts } from '../../image/image-package.js';
import { rawSignerFor } from '../../pki/raw-signer.js';
import { findSigningRole, SIGNING_ROLES, type SigningRole } from '../../pki/signing-roles.js';
import { buildOsImageSet } from '../../firmware/os-image-set.js';
import { keystoreBodyFor } from '../../firmware/rig-keystore.js';
import { buildSampleApp } from '../../firmware/sample-app.js';
import type { AppBehaviour } from '../../firmware/app-behaviour.js';
import { RigError } from '../../util/failure.js';
import { defineStep, type StepContext } from '../step-type.js';

/**
 * Steps that build what a scenario installs: apps, OS image sets, capability
 * images, all signed with the rig's own keys, and tampered copies of them. The
 * result is a named artefact of the run, recorded by digest in its provenance.
 */
export function imageIdOf(image: Buffer): string {
  return readImageFacts(parseImagePackage(image)).identity?.imageId ?? 'unknown';
}

async function signer(context: StepContext, role: SigningRole) {
  return rawSignerFor(findSigningRole(await context.run.services.signingKeys(), role));
}

const artefactName = { type: 'string', pattern: '^[\\w-]+$', maxLength: 64 } as const;

export const buildAppStep = defineStep<{
  artefact: string;
  appName: string;
  componentId: string;
  signer?: SigningRole;
  securityVersion?: number;
  development?: boolean;
  behaviour?: AppBehaviour;
  allowedConnections?: string[];
  deviceAuthentication?: string;
  executableBytes?: number;
}>({
  type: 'build-app',
  description: 'Build and sign an application image (emulator behaviour file optional) as a named artefact',
  schema: {
    required: ['artefact', 'appName', 'componentId'],
    properties: {
      artefact: artefactName,
      appName: { type: 'string', minLength: 1, maxLength: 31 },
      componentId: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
      signer: { enum: [...SIGNING_ROLES] },
      securityVersion: { type: 'integer', minimum: 0 },
      development: { type: 'boolean' },
      behaviour: { type: 'object' },
      allowedConnections: { type: 'array', items: { type: 'string' } },
      deviceAuthentication: { type: 'string' },
      executableBytes: { type: 'integer', minimum: 64, maximum: 64 * 1024 * 1024 },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async (p, context) => {
    const role = p.signer ?? (p.development ? 'development-app' : 'production-app');
    const s = await signer(context, role);
    const image = buildSampleApp(
      {
        name: p.appName,
        componentId: p.componentId,
        behaviour: p.behaviour,
        securityVersion: p.securityVersion,
        development: p.development,
        allowedConnections: p.allowedConnections,
        deviceAuthentication: p.deviceAuthentication,
        executableBytes: p.executableBytes,
      },
      s,
    );
    context.run.addArtefact(p.artefact, 'image', [image], s);
    context.measure(`${p.artefact} bytes`, image.length, { unit: 'B' });
  },
});

export const buildOsSetStep = defineStep<{ artefact: string; osVersion: string; securityVersion: number | 'current'; bodyScale?: number }>({
  type: 'build-os-set',
  description: "Build an emulator OS image set signed with the rig's OS key; securityVersion 'current' takes the board's highest fuse",
  schema: {
    required: ['artefact', 'osVersion', 'securityVersion'],
    properties: {
      artefact: artefactName,
      osVersion: { type: 'string', minLength: 1, maxLength: 32 },
      securityVersion: { anyOf: [{ type: 'integer', minimum: 0 }, { const: 'current' }] },
      bodyScale: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    },
  },
  defaultTimeoutMs: 60_000,
  run: async (p, context) => {
    const keys = await context.run.services.signingKeys();
    const s = rawSignerFor(findSigningRole(keys, 'os'));
    let securityVersion = p.securityVersion;
    if (securityVersion === 'current') {
      const info = await context.board.info({ signal: context.signal, timeoutMs: context.remainingMs() });
      securityVersion = Math.max(1, ...Object.values((info.fuses as Record<string, number> | undefined) ?? {}));
    }
    const set = buildOsImageSet({ osVersion: p.osVersion, securityVersion, keystorePem: keystoreBodyFor(keys, true), bodyScale: p.bodyScale }, s);
    context.run.addArtefact(p.artefact, 'image', set.map((i) => i.bytes), s);
  },
});

export const buildCapabilityStep = defineStep<{ artefact: string; capabilities: number[]; deviceId?: string }>({
  type: 'build-capability',
  description: "Build a capability image for this board (or another device ID) signed with the rig's capability key",
  schema: {
    required: ['artefact', 'capabilities'],
    properties: {
      artefact: artefactName,
      capabilities: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'integer', minimum: 1 } },
      deviceId: { type: 'string', pattern: '^[0-9a-fA-F]{128}$' },
    },
  },
  defaultTimeoutMs: 30_000,
  run: async (p, context) => {
    const deviceId = p.deviceId ?? context.board.identity.deviceId ?? (await context.board.info({ signal: context.signal })).deviceId;
    if (!deviceId) throw new RigError('infra-error', 'device-id-unknown', 'the board has not told its device ID yet');
    const s = await signer(context, 'capability');
    context.run.addArtefact(p.artefact, 'capability', [buildCapabilityImage({ deviceId: deviceId.toLowerCase(), capabilities: p.capabilities }, s)], s);
  },
});

export const tamperStep = defineStep<{ artefact: string; from: string; offset?: number; image?: number }>({
  type: 'tamper',
  description: 'Copy an artefact with one byte flipped (default: in the middle of the body): a tampered image',
  schema: {
    required: ['artefact', 'from'],
    properties: { artefact: artefactName, from: artefactName, offset: { type: 'integer', minimum: 0 }, image: { type: 'integer', minimum: 0 } },
  },
  defaultTimeoutMs: 10_000,
  run: async (p, context) => {
    const source = context.run.artefact(p.from);
    const images = source.images.map((i) => Buffer.from(i));
    const target = images[p.image ?? 0];
    if (!target) throw new RigError('infra-error', 'bad-params', `artefact ${p.from} has no image ${p.image}`);
    const offset = p.offset ?? Math.floor(parseImagePackage(target).body.length / 2);
    if (offset >= target.length) throw new RigError('infra-error', 'bad-params', `offset ${offset} is past the image's ${target.length} bytes`);
    target[offset] = target[offset]! ^ 0x55;
    context.run.addArtefact(p.artefact, source.kind, images, source.signer && source.signerThumbprint ? { subject: source.signer, thumbprint: source.signerThumbprint } : null);
  },
});
