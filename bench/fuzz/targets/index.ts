import type { FuzzTarget, TargetName } from '../target.js';

/**
 * Every target, in the order `npm run fuzz` runs them, loaded on demand (a worker
 * fuzzing the recovery link need not load express or the YAML parser).
 */
export const TARGET_DESCRIPTIONS: Readonly<Record<TargetName, string>> = {
  image:
    'image packages, metadata sections, inspect (with signature check) and each type\'s body parser; seeds: the SDK test app, ' +
    'dev_enable_caps.bin, and app, recovery-manifest and boot-manifest images built with the project\'s builder',
  asxipfs: 'the ASXipFS reader and the app manifest in it; seeds: the SDK test app\'s file system, a deeper tree from buildAsxipfs',
  'recovery-frames': 'COBS + CRC frames, FrameDecoder, readFrameMessage, every recovery message decoder; seeds: a frame of each message kind, a captured session',
  'rest-bodies': 'the REST handlers that take a JSON body (wifi, net, certstore, manufacturing state, app state, install), in-process; seeds: valid bodies',
  'rig-yaml': 'parseRigConfig; seeds: rigs/*.yaml and the rig files of the test fixtures',
  'scenario-yaml': 'parseScenario, resolveRunParams, checkResolvedSteps; seeds: fixtures/scenarios/*.yaml and the test fixtures\' scenarios',
  evidence: 'checkEvidenceToken, checkBoundKey, appraiseMeasurements; seeds: evidence from the emulator\'s evidence-builder',
};

export async function loadTarget(name: TargetName): Promise<FuzzTarget> {
  switch (name) {
    case 'image':
      return (await import('./image.js')).imageTarget;
    case 'asxipfs':
      return (await import('./asxipfs.js')).asxipfsTarget;
    case 'recovery-frames':
      return (await import('./recovery-frames.js')).recoveryFramesTarget;
    case 'rest-bodies':
      return (await import('./rest-bodies.js')).restBodiesTarget;
    case 'rig-yaml':
      return (await import('./rig-yaml.js')).rigYamlTarget;
    case 'scenario-yaml':
      return (await import('./scenario-yaml.js')).scenarioYamlTarget;
    case 'evidence':
      return (await import('./evidence.js')).evidenceTarget;
  }
}
