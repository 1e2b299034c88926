import { APPLICATION_RUNTIME_ABI } from '../../image/application-image.js';
import { parseImagePackage, readImageFacts } from '../../image/image-package.js';
import { ABI_IDENTITY_NAMES } from '../../image/image-types.js';
import type { EmulatedBoard } from '../emulated-board.js';

/**
 * GET /abi_versions: the ABIs the running OS provides. An image of the running
 * set that carries an NP (ABI provides) section sets its identity's version;
 * identities no image provides take the emulator's defaults, chosen so that
 * apps built by the SDK (ApplicationRuntime 5, like the real test_app) and by
 * this project run: SecureWorldRuntime 2, OSRuntime 3, ApplicationRuntime 5.
 */
export type AbiVersionSet = Record<'SecureWorldRuntime' | 'OSRuntime' | 'ApplicationRuntime', number>;

export const DEFAULT_ABI_VERSIONS: Readonly<AbiVersionSet> = Object.freeze({
  SecureWorldRuntime: 2,
  OSRuntime: 3,
  ApplicationRuntime: APPLICATION_RUNTIME_ABI.version,
});

export function abiVersions(board: EmulatedBoard): AbiVersionSet {
  const provided: Partial<AbiVersionSet> = {};
  for (const image of board.runningImages) {
    let provides;
    try {
      provides = readImageFacts(parseImagePackage(image.bytes)).abiProvides;
    } catch {
      continue;
    }
    for (const entry of provides) {
      const name = ABI_IDENTITY_NAMES[entry.identityType] as keyof AbiVersionSet | undefined;
      if (name && name in DEFAULT_ABI_VERSIONS) provided[name] = Math.max(provided[name] ?? 0, entry.version);
    }
  }
  return { ...DEFAULT_ABI_VERSIONS, ...provided };
}
