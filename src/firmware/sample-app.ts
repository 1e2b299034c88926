import { createHash } from 'node:crypto';
import { packApplication } from '../image/application-image.js';
import type { ImageSigner } from '../image/image-signing.js';
import { BEHAVIOUR_PATH, type AppBehaviour } from './app-behaviour.js';

/**
 * Builds small application images for the emulator: a manifest, a stand-in
 * executable and, optionally, a behaviour file. Used by provisioning (the
 * baseline app), scenarios (crashing, logging, downgraded apps) and tests.
 */
export interface SampleAppSpec {
  name: string;
  componentId: string;
  behaviour?: AppBehaviour;
  securityVersion?: number;
  development?: boolean;
  allowedConnections?: string[];
  deviceAuthentication?: string;
  /** Pad the executable to this many bytes (to test space limits). */
  executableBytes?: number;
}

export function buildSampleApp(spec: SampleAppSpec, signer: ImageSigner): Buffer {
  const manifest = {
    SchemaVersion: 1,
    Name: spec.name,
    ComponentId: spec.componentId,
    EntryPoint: '/bin/app',
    CmdArgs: [],
    Capabilities: {
      ...(spec.allowedConnections ? { AllowedConnections: spec.allowedConnections } : {}),
      ...(spec.deviceAuthentication ? { DeviceAuthentication: spec.deviceAuthentication } : {}),
    },
    ApplicationType: 'Default',
  };
  // Not ARM code: an ELF magic and a digest, so that two apps differ.
  const executable = Buffer.alloc(Math.max(64, spec.executableBytes ?? 256));
  Buffer.from([0x7f, 0x45, 0x4c, 0x46]).copy(executable);
  createHash('sha256').update(JSON.stringify(spec)).digest().copy(executable, 16);
  const files = [{ path: 'bin/app', data: executable, mode: 0o755 }];
  if (spec.behaviour) files.push({ path: BEHAVIOUR_PATH, data: Buffer.from(JSON.stringify(spec.behaviour)), mode: 0o644 });
  return packApplication(
    {
      files,
      manifestJson: Buffer.from(JSON.stringify(manifest)),
      securityVersion: spec.securityVersion,
      development: spec.development,
    },
    signer,
  ).bytes;
}

/** The component ID of the baseline app provisioning installs (project-chosen). */
export const BASELINE_APP_COMPONENT_ID = 'b45e1ae0-5e11-4a9b-8d6c-0000000000a1';
