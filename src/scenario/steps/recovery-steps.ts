import { join } from 'node:path';
import { buildCapabilityImage } from '../../image/capability-image.js';
import { buildRecoveryImageSet, saveRecoveryImageSet } from '../../firmware/recovery-image-set.js';
import { keystoreBodyFor } from '../../firmware/rig-keystore.js';
import { rawSignerFor } from '../../pki/raw-signer.js';
import { RigError } from '../../util/failure.js';
import { findSigningRole, type RoleKeys } from '../../pki/signing-roles.js';
import { defineStep, type StepContext } from '../step-type.js';

/**
 * Full recovery over the recovery UART: a recovery image set is built for the
 * requested OS version (signed with the rig's OS key) and written to the board
 * from ROM, as Microsoft's tool does it. Works on any board the rig can strap
 * and reset.
 */
/**
 * A recovery image set for `osVersion`, signed with the rig's OS key and saved in the
 * run's folder (recorded as an artefact). By default at the board's highest fuse:
 * recovery obeys anti-rollback too.
 */
export async function buildRecoverySetFor(context: StepContext, osVersion: string, securityVersion?: number): Promise<{ dir: string; keys: RoleKeys[] }> {
  const keys = await context.run.services.signingKeys();
  const signer = rawSignerFor(findSigningRole(keys, 'os'));
  const fuses = securityVersion === undefined ? ((await context.board.info({ signal: context.signal, timeoutMs: 10_000 }).catch(() => ({ fuses: undefined }))).fuses as Record<string, number> | undefined) : undefined;
  const set = buildRecoveryImageSet({ osVersion, securityVersion: securityVersion ?? Math.max(1, ...Object.values(fuses ?? {})), keystorePem: keystoreBodyFor(keys, true) }, signer);
  const dir = join(context.run.services.workDir, `recovery-${osVersion}`);
  saveRecoveryImageSet(dir, set);
  context.run.addArtefact(`recovery-${osVersion}`, 'recovery-set', set.files.map((f) => f.bytes), signer);
  return { dir, keys };
}

/** Writes the recovery set in `dir` to the board from ROM, noting progress and measuring the time. */
export async function recoverFrom(context: StepContext, dir: string, capability?: Buffer): Promise<void> {
  const started = performance.now();
  let lastImages: number | undefined;
  await context.board.recover(dir, {
    signal: context.signal,
    timeoutMs: context.remainingMs(),
    capability,
    onProgress: (progress) => {
      if (progress.imagesRemaining !== undefined && progress.imagesRemaining !== lastImages) {
        lastImages = progress.imagesRemaining;
        context.note(`recovering: ${progress.imagesRemaining} of ${progress.imageCount ?? '?'} images to go`);
      }
    },
  });
  context.measure('recovery time', Math.round(performance.now() - started), { unit: 'ms' });
}

export const recoverStep = defineStep<{ osVersion: string; securityVersion?: number; withCapability?: number[] }>({
  type: 'recover',
  description: "Recover the board from ROM with a fresh image set for osVersion (security version: the board's highest fuse unless given; optionally installing a capability image)",
  schema: {
    required: ['osVersion'],
    properties: {
      osVersion: { type: 'string', minLength: 1, maxLength: 32 },
      securityVersion: { type: 'integer', minimum: 0 },
      withCapability: { type: 'array', items: { type: 'integer', minimum: 1 } },
    },
  },
  defaultTimeoutMs: 10 * 60_000,
  run: async (p, context) => {
    const { dir, keys } = await buildRecoverySetFor(context, p.osVersion, p.securityVersion);
    let capability: Buffer | undefined;
    if (p.withCapability?.length) {
      // A board in ROM cannot be asked: the ID must be known from before (a capability is bound to one device).
      const deviceId = context.board.identity.deviceId;
      if (!deviceId) throw new RigError('infra-error', 'device-id-unknown', 'withCapability needs the board\'s device ID, and the rig has not learnt it yet (the board never answered since the daemon started)');
      capability = buildCapabilityImage({ deviceId, capabilities: p.withCapability }, rawSignerFor(findSigningRole(keys, 'capability')));
    }
    await recoverFrom(context, dir, capability);
    context.note(`recovered to OS ${p.osVersion}`);
  },
});
