import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The real artefacts (copied from shared/fixtures into the project's own
 * fixtures/ so a clone tests on its own): the SDK-built test app, the SDK test
 * certificate, a real capability image, the device REST API CA.
 */
export const sharedFixtures = fileURLToPath(new URL('../../fixtures/azure-sphere/', import.meta.url));

export const fixturePath = (name: string): string => `${sharedFixtures}${name}`;
export const readFixture = (name: string): Buffer => readFileSync(fixturePath(name));

export const TEST_APP = 'test_app.imagepackage';
export const SDK_TEST_CERT = 'azure-sphere-sdk-test.pem';
export const DEV_CAPS = 'dev_enable_caps.bin';
export const DEVICE_API_CA = 'device-rest-api-ca.pem';
