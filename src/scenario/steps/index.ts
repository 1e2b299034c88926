import type { StepType } from '../step-type.js';
import { attestStep, setOsTrustStep, verifyCertificateStep } from './attestation-steps.js';
import { buildAppStep, buildCapabilityStep, buildOsSetStep, tamperStep } from './artefact-steps.js';
import { advanceClockStep, collectErrorReportsStep, faultStep, installStep } from './board-steps.js';
import { expectAppStateStep, expectConsoleStep, expectOsVersionStep, expectStateStep } from './expect-steps.js';
import { powerCutSweepStep } from './power-cut-sweep.js';
import { recoverStep } from './recovery-steps.js';
import { bringUpStep } from './bring-up-step.js';
import { collectDeviceLogStep } from './device-log-step.js';
import { appControlStep, clearErrorReportsStep, restartStep, sideloadStep } from './rest-steps.js';
import { powerCycleStep, powerStep, resetStep, strapStep, waitStep } from './power-steps.js';

/** Every built-in step type, in the order `sphere-rig scenario steps` lists them. */
export const BUILTIN_STEPS: ReadonlyArray<StepType<never>> = [
  powerStep,
  powerCycleStep,
  resetStep,
  strapStep,
  waitStep,
  expectConsoleStep,
  expectStateStep,
  expectOsVersionStep,
  expectAppStateStep,
  buildAppStep,
  buildOsSetStep,
  buildCapabilityStep,
  tamperStep,
  installStep,
  faultStep,
  advanceClockStep,
  collectErrorReportsStep,
  clearErrorReportsStep,
  collectDeviceLogStep,
  powerCutSweepStep,
  attestStep,
  verifyCertificateStep,
  setOsTrustStep,
  recoverStep,
  bringUpStep,
  sideloadStep,
  appControlStep,
  restartStep,
] as unknown as ReadonlyArray<StepType<never>>;
