import { createHash } from 'node:crypto';
import type { RoleKeys } from '../pki/signing-roles.js';
import type { Artefact, DeviceLogCapture } from './run-record.js';
import { InputError } from '../util/failure.js';

/**
 * What a run carries from step to step: its parameters, the artefacts its steps
 * built (images signed with the rig's keys, tampered copies...), and the rig
 * services steps may use. Artefacts end up in the run's provenance by digest.
 */
/** Who signed an artefact: the certificate's subject and its SHA-1 thumbprint. */
export interface ArtefactSigner {
  subject: string;
  thumbprint: Buffer | string;
}

export interface RunArtefact extends Artefact {
  /** One image, or a set (an OS image set). */
  images: Buffer[];
}

export interface DaaAccess {
  /** Relying-party check of a certificate chain: valid now, for which device and tenant. */
  verifyChain(chainPem: string): Promise<{ valid: boolean; deviceId: string | null; tenant: string | null; notAfter?: string | null; problems: string[] }>;
  /** Tenant reference values: mark an image hash (or ID) of a component trusted or not. */
  setImageTrust?(tenant: string, componentId: string, imageSha256: string, trusted: boolean): Promise<void>;
}

export interface RunServices {
  /** The rig's signing keys, for steps that build images. */
  signingKeys(): Promise<RoleKeys[]>;
  /** Folder where this run may write files (recovery sets, reports). */
  workDir: string;
  daa?: DaaAccess;
  /**
   * The OS the rig returns a board to when it must recover it (a health check of a
   * board stuck in ROM): a recovery set of this version is built with the rig's keys.
   */
  baselineOsVersion?: string;
}

export class RunContext {
  readonly #artefacts = new Map<string, RunArtefact>();
  /** Console mark taken as each step started, in step order: `expect-console` looks back to these. */
  readonly stepConsoleMarks: number[] = [];
  /** Console mark at the start of the run. */
  runConsoleMark = 0;
  /** Error reports collected from the board during the run. */
  readonly errorReports: unknown[] = [];
  /** Device logs collected from the board during the run. */
  readonly deviceLogs: DeviceLogCapture[] = [];

  constructor(
    readonly runId: string,
    readonly params: Record<string, unknown>,
    readonly services: RunServices,
  ) {}

  /** Records an artefact by digest; `signedBy` is the certificate that signed it (a RawSigner, or another artefact's signer). */
  addArtefact(name: string, kind: Artefact['kind'], images: Buffer[], signedBy: ArtefactSigner | null = null): RunArtefact {
    const hash = createHash('sha256');
    for (const image of images) hash.update(image);
    const artefact: RunArtefact = {
      name,
      kind,
      images,
      digest: `sha256:${hash.digest('hex')}`,
      bytes: images.reduce((sum, i) => sum + i.length, 0),
      signer: signedBy?.subject ?? null,
      signerThumbprint: signedBy ? (typeof signedBy.thumbprint === 'string' ? signedBy.thumbprint : signedBy.thumbprint.toString('hex')) : null,
    };
    this.#artefacts.set(name, artefact);
    return artefact;
  }

  artefact(name: string): RunArtefact {
    const found = this.#artefacts.get(name);
    if (!found) throw new InputError('artefact-missing', `no artefact named '${name}' was built earlier in this run`);
    return found;
  }

  artefacts(): Artefact[] {
    return [...this.#artefacts.values()].map(({ images: _images, ...rest }) => rest);
  }
}
