import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  parseAppManifest,
  readAppManifestFromImage,
  serializeAppManifest,
  validateAppManifest,
  validateManifestAgainstFiles,
  type AppManifest,
} from '../../src/image/app-manifest.js';
import { buildAsxipfs, readAsxipfs } from '../../src/image/asxipfs.js';
import { FormatError } from '../../src/image/format-error.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/azure-sphere/test_app.imagepackage', import.meta.url));

/** The example from shared/spec/image-format.md. */
const SPEC_EXAMPLE = `{"SchemaVersion":1,"Name":"AzureIoT","ComponentId":"819255ff-8640-41fd-aea7-f85d34c491d5",
 "EntryPoint":"/bin/app","CmdArgs":[],
 "Capabilities":{"AllowedConnections":["global.azure-devices-provisioning.net"],
   "Gpio":[8,9],"DeviceAuthentication":"00000000-0000-0000-0000-000000000000"},
 "ApplicationType":"Default"}`;

function example(): Record<string, any> {
  return JSON.parse(SPEC_EXAMPLE);
}

function expectRejection(action: () => unknown, deviceErrorCode: number, jsonPath: string, code?: string): FormatError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a FormatError with device code ${deviceErrorCode}`).to.be.instanceOf(FormatError);
  const error = caught as FormatError;
  expect(error.deviceErrorCode, error.message).to.equal(deviceErrorCode);
  expect(error.jsonPath, error.message).to.equal(jsonPath);
  if (code !== undefined) expect(error.code).to.equal(code);
  return error;
}

/** Rejects `edit(example)` with the given device code and JSON path. */
function rejects(edit: (m: Record<string, any>) => void, deviceErrorCode: number, jsonPath: string, code?: string): void {
  const manifest = example();
  edit(manifest);
  expectRejection(() => parseAppManifest(JSON.stringify(manifest)), deviceErrorCode, jsonPath, code);
}

describe('app manifest', () => {
  describe('valid manifests', () => {
    it("parses the spec's example", () => {
      const manifest = parseAppManifest(SPEC_EXAMPLE);
      expect(manifest).to.include({ SchemaVersion: 1, Name: 'AzureIoT', EntryPoint: '/bin/app', ApplicationType: 'Default' });
      expect(manifest.ComponentId).to.equal('819255ff-8640-41fd-aea7-f85d34c491d5');
      expect(manifest.CmdArgs).to.deep.equal([]);
      expect(manifest.Capabilities.Gpio).to.deep.equal([8, 9]);
      expect(manifest.Capabilities.AllowedConnections).to.deep.equal(['global.azure-devices-provisioning.net']);
      expect(manifest.Capabilities.DeviceAuthentication).to.equal('00000000-0000-0000-0000-000000000000');
    });

    it("reads the real image's manifest, keeping unknown keys", () => {
      const image = readAsxipfs(readFileSync(FIXTURE).subarray(0, 28_672));
      const raw = image.readFile('app_manifest.json');
      const manifest = readAppManifestFromImage(image);
      expect(manifest.ComponentId).to.equal('1689d8b2-c835-2e27-27ad-e894d6d15fa9');
      expect(manifest.Name).to.equal('Anvil Test App');
      expect(manifest.Capabilities.Uart).to.deep.equal(['ISU0']);
      expect(manifest.Capabilities.MutableStorage).to.deep.equal({ SizeKB: 64 });
      expect(manifest.TargetApplicationRuntimeVersion).to.equal(5);
      // The SDK writes compact JSON in key order, which serializeAppManifest reproduces.
      expect(serializeAppManifest(manifest)).to.equal(raw.toString('utf8'));
      expect(parseAppManifest(raw)).to.deep.equal(manifest);
    });

    it('accepts every typed capability in a valid form', () => {
      const manifest = example();
      manifest.ApplicationType = 'RealTimeCapable';
      manifest.CmdArgs = ['--verbose', ''];
      Object.assign(manifest.Capabilities, {
        Uart: ['ISU0'],
        I2cMaster: ['ISU1'],
        SpiMaster: ['ISU2'],
        Pwm: ['PWM-CONTROLLER-0'],
        Adc: ['ADC-CONTROLLER-0'],
        AllowedApplicationConnections: ['005180bc-402f-4cb3-a662-72937dbcde47'],
        AllowedTcpServerPorts: [1, 1024, 65535],
        AllowedUdpServerPorts: [53],
        WifiConfig: true,
        EnterpriseWifiConfig: false,
        MutableStorage: { SizeKB: 8 },
        SystemTime: true,
        TimeSyncConfig: true,
        DhcpService: false,
        SntpService: true,
        CertStore: true,
        SystemEventNotifications: true,
        SoftwareUpdateDeferral: true,
        PowerControls: ['ForcePowerDown', 'ForceReboot', 'SetPowerProfile'],
        NetworkConfig: true,
        FutureCapability: { anything: 1 },
      });
      const parsed = parseAppManifest(JSON.stringify(manifest));
      expect(parsed.Capabilities.FutureCapability).to.deep.equal({ anything: 1 });
      expect(parsed.ApplicationType).to.equal('RealTimeCapable');
    });

    it('treats ApplicationType as optional, and takes bytes or text', () => {
      const manifest = example();
      delete manifest.ApplicationType;
      expect(parseAppManifest(Buffer.from(JSON.stringify(manifest))).ApplicationType).to.equal(undefined);
    });

    it('validates an already-parsed object and returns it', () => {
      const manifest = example();
      expect(validateAppManifest(manifest)).to.equal(manifest);
    });
  });

  describe('rejections carry the device code and the JSON path', () => {
    it('unparseable JSON, bytes that are not UTF-8, or not an object', () => {
      expectRejection(() => parseAppManifest('{"SchemaVersion":1,'), 2097153, '$', 'manifest-unparseable');
      expectRejection(() => parseAppManifest(Buffer.from([0x7b, 0xff, 0x7d])), 2097153, '$', 'manifest-unparseable');
      expectRejection(() => parseAppManifest('[]'), 2097153, '$');
      expectRejection(() => parseAppManifest('null'), 2097153, '$');
      expectRejection(() => parseAppManifest(''), 2097153, '$');
    });

    it('SchemaVersion missing, of the wrong type, or not 1', () => {
      rejects((m) => delete m.SchemaVersion, 2097156, '$.SchemaVersion', 'manifest-schema-version-missing');
      rejects((m) => (m.SchemaVersion = '1'), 2097156, '$.SchemaVersion');
      rejects((m) => (m.SchemaVersion = 1.5), 2097156, '$.SchemaVersion');
      rejects((m) => (m.SchemaVersion = 2), 2097169, '$.SchemaVersion', 'manifest-schema-version-incompatible');
    });

    it('Name missing or empty (no dedicated device code)', () => {
      rejects((m) => delete m.Name, 2097153, '$.Name', 'manifest-name-invalid');
      rejects((m) => (m.Name = ''), 2097153, '$.Name');
      rejects((m) => (m.Name = 7), 2097153, '$.Name');
    });

    it('ComponentId missing or not an 8-4-4-4-12 GUID', () => {
      rejects((m) => delete m.ComponentId, 2097153, '$.ComponentId', 'manifest-component-id-invalid');
      rejects((m) => (m.ComponentId = '819255ff864041fdaea7f85d34c491d5'), 2097153, '$.ComponentId');
      rejects((m) => (m.ComponentId = '{819255ff-8640-41fd-aea7-f85d34c491d5}'), 2097153, '$.ComponentId');
      rejects((m) => (m.ComponentId = '819255ff-8640-41fd-aea7-f85d34c491dg'), 2097153, '$.ComponentId');
    });

    it('EntryPoint missing, or not a usable path', () => {
      rejects((m) => delete m.EntryPoint, 2097155, '$.EntryPoint', 'manifest-entry-point-missing');
      rejects((m) => (m.EntryPoint = ['/bin/app']), 2097155, '$.EntryPoint');
      for (const bad of ['', '/', '/bin/', '/bin//app', '/bin/../app', './app', 'bin/\u0000app']) {
        rejects((m) => (m.EntryPoint = bad), 2097168, '$.EntryPoint', 'manifest-entry-point-invalid');
      }
    });

    it('CmdArgs missing or not a string array', () => {
      rejects((m) => delete m.CmdArgs, 2097157, '$.CmdArgs', 'manifest-cmd-args-invalid');
      rejects((m) => (m.CmdArgs = '--flag'), 2097157, '$.CmdArgs');
      rejects((m) => (m.CmdArgs = ['a', 2]), 2097157, '$.CmdArgs[1]');
    });

    it('Capabilities missing or not an object', () => {
      rejects((m) => delete m.Capabilities, 2097158, '$.Capabilities', 'manifest-capabilities-invalid');
      rejects((m) => (m.Capabilities = []), 2097158, '$.Capabilities');
      rejects((m) => (m.Capabilities = null), 2097158, '$.Capabilities');
    });

    it('an unknown ApplicationType', () => {
      rejects((m) => (m.ApplicationType = 'HighLevel'), 2097178, '$.ApplicationType', 'manifest-application-type-unknown');
      rejects((m) => (m.ApplicationType = null), 2097178, '$.ApplicationType');
    });

    it('Gpio not an array of non-negative integers', () => {
      rejects((m) => (m.Capabilities.Gpio = 8), 2097162, '$.Capabilities.Gpio', 'manifest-gpio-invalid');
      rejects((m) => (m.Capabilities.Gpio = [8, '$LED']), 2097162, '$.Capabilities.Gpio[1]');
      rejects((m) => (m.Capabilities.Gpio = [8, 9, -1]), 2097162, '$.Capabilities.Gpio[2]');
      rejects((m) => (m.Capabilities.Gpio = [1.5]), 2097162, '$.Capabilities.Gpio[0]');
    });

    it('peripheral lists (Uart, I2cMaster, SpiMaster, Pwm, Adc) not arrays of names', () => {
      for (const key of ['Uart', 'I2cMaster', 'SpiMaster', 'Pwm', 'Adc']) {
        rejects((m) => (m.Capabilities[key] = 'ISU0'), 2097165, `$.Capabilities.${key}`, 'manifest-peripheral-invalid');
        rejects((m) => (m.Capabilities[key] = ['ISU0', 3]), 2097165, `$.Capabilities.${key}[1]`);
      }
    });

    it('AllowedConnections and AllowedApplicationConnections', () => {
      rejects((m) => (m.Capabilities.AllowedConnections = 'host'), 2097161, '$.Capabilities.AllowedConnections', 'manifest-allowed-connections-invalid');
      rejects((m) => (m.Capabilities.AllowedConnections = ['ok', '']), 2097161, '$.Capabilities.AllowedConnections[1]');
      rejects((m) => (m.Capabilities.AllowedApplicationConnections = ['not-a-guid']), 2097195, '$.Capabilities.AllowedApplicationConnections[0]');
      rejects((m) => (m.Capabilities.AllowedApplicationConnections = {}), 2097195, '$.Capabilities.AllowedApplicationConnections');
    });

    it('server ports: not an array, or a value outside 1..65535', () => {
      rejects((m) => (m.Capabilities.AllowedTcpServerPorts = 80), 2097188, '$.Capabilities.AllowedTcpServerPorts', 'manifest-tcp-ports-invalid');
      rejects((m) => (m.Capabilities.AllowedUdpServerPorts = '53'), 2097189, '$.Capabilities.AllowedUdpServerPorts', 'manifest-udp-ports-invalid');
      rejects((m) => (m.Capabilities.AllowedTcpServerPorts = [80, 0]), 2097190, '$.Capabilities.AllowedTcpServerPorts[1]', 'manifest-tcp-port-value');
      rejects((m) => (m.Capabilities.AllowedTcpServerPorts = [65536]), 2097190, '$.Capabilities.AllowedTcpServerPorts[0]');
      rejects((m) => (m.Capabilities.AllowedUdpServerPorts = ['53']), 2097191, '$.Capabilities.AllowedUdpServerPorts[0]', 'manifest-udp-port-value');
    });

    it('DeviceAuthentication not a tenant GUID, or too long', () => {
      rejects((m) => (m.Capabilities.DeviceAuthentication = true), 2097176, '$.Capabilities.DeviceAuthentication', 'manifest-device-authentication-invalid');
      rejects((m) => (m.Capabilities.DeviceAuthentication = 'tenant'), 2097176, '$.Capabilities.DeviceAuthentication');
      rejects((m) => (m.Capabilities.DeviceAuthentication = `${'0'.repeat(36)}0`), 2097181, '$.Capabilities.DeviceAuthentication', 'manifest-device-authentication-too-long');
    });

    it('MutableStorage: not an object, no SizeKB, unparseable SizeKB, too large', () => {
      rejects((m) => (m.Capabilities.MutableStorage = 64), 2097183, '$.Capabilities.MutableStorage', 'manifest-mutable-storage-not-object');
      rejects((m) => (m.Capabilities.MutableStorage = {}), 2097184, '$.Capabilities.MutableStorage', 'manifest-mutable-storage-no-size');
      rejects((m) => (m.Capabilities.MutableStorage = { SizeKB: '8' }), 2097185, '$.Capabilities.MutableStorage.SizeKB', 'manifest-mutable-storage-invalid');
      rejects((m) => (m.Capabilities.MutableStorage = { SizeKB: 0 }), 2097185, '$.Capabilities.MutableStorage.SizeKB');
      rejects((m) => (m.Capabilities.MutableStorage = { SizeKB: 65 }), 2097186, '$.Capabilities.MutableStorage.SizeKB', 'manifest-mutable-storage-too-large');
    });

    it('boolean capabilities, each with its own code', () => {
      const codes: Record<string, number> = {
        WifiConfig: 2097167,
        EnterpriseWifiConfig: 2097197,
        SystemTime: 2097182,
        TimeSyncConfig: 2097192,
        DhcpService: 2097193,
        SntpService: 2097194,
        CertStore: 2097196,
        SystemEventNotifications: 2097198,
        SoftwareUpdateDeferral: 2097199,
        NetworkConfig: 2097158,
      };
      for (const [key, code] of Object.entries(codes)) {
        rejects((m) => (m.Capabilities[key] = 'true'), code, `$.Capabilities.${key}`, 'manifest-capability-not-boolean');
      }
    });

    it('PowerControls: not a list of distinct strings, empty, or an unknown value', () => {
      rejects((m) => (m.Capabilities.PowerControls = 'ForceReboot'), 2097200, '$.Capabilities.PowerControls', 'manifest-power-controls-invalid');
      rejects((m) => (m.Capabilities.PowerControls = ['ForceReboot', 'ForceReboot']), 2097200, '$.Capabilities.PowerControls[1]');
      rejects((m) => (m.Capabilities.PowerControls = []), 2097201, '$.Capabilities.PowerControls', 'manifest-power-controls-empty');
      rejects((m) => (m.Capabilities.PowerControls = ['Reboot']), 2097202, '$.Capabilities.PowerControls[0]', 'manifest-power-controls-value');
    });

    it('names app_manifest.json in the message', () => {
      const error = expectRejection(() => parseAppManifest('{"SchemaVersion":3}'), 2097169, '$.SchemaVersion');
      expect(error.message).to.match(/app_manifest\.json/);
    });
  });

  describe('checks against the file system', () => {
    const manifestBytes = (entryPoint: string): Buffer => {
      const manifest = example();
      manifest.EntryPoint = entryPoint;
      return Buffer.from(JSON.stringify(manifest));
    };

    it('accepts an EntryPoint that is a file, with or without a leading slash', () => {
      const entries = [{ path: 'bin', type: 'directory' as const }, { path: 'bin/app', type: 'file' as const }];
      const manifest = parseAppManifest(SPEC_EXAMPLE);
      validateManifestAgainstFiles(manifest, entries);
      validateManifestAgainstFiles({ ...manifest, EntryPoint: 'bin/app' }, entries);
    });

    it('EntryPoint that does not exist (2097174) or is not a file (2097175)', () => {
      const manifest: AppManifest = parseAppManifest(SPEC_EXAMPLE);
      expectRejection(() => validateManifestAgainstFiles(manifest, []), 2097174, '$.EntryPoint', 'manifest-entry-point-not-found');
      expectRejection(() => validateManifestAgainstFiles(manifest, [{ path: 'bin/app', type: 'directory' }]), 2097175, '$.EntryPoint', 'manifest-entry-point-not-a-file');
      expectRejection(() => validateManifestAgainstFiles(manifest, [{ path: 'bin/app', type: 'symlink' }]), 2097175, '$.EntryPoint');
    });

    it('reads and checks a built image: missing manifest 2097177, EntryPoint missing or a directory', () => {
      const app = { path: 'bin/app', data: Buffer.from('ELF'), mode: 0o755 };
      expect(readAppManifestFromImage(readAsxipfs(buildAsxipfs([app, { path: 'app_manifest.json', data: manifestBytes('/bin/app') }]))).Name).to.equal('AzureIoT');
      expectRejection(() => readAppManifestFromImage(readAsxipfs(buildAsxipfs([app]))), 2097177, '$', 'manifest-missing');
      expectRejection(() => readAppManifestFromImage(readAsxipfs(buildAsxipfs([app, { path: 'app_manifest.json/x', data: Buffer.from('{}') }]))), 2097177, '$');
      expectRejection(() => readAppManifestFromImage(readAsxipfs(buildAsxipfs([app, { path: 'app_manifest.json', data: manifestBytes('/bin/run') }]))), 2097174, '$.EntryPoint');
      expectRejection(() => readAppManifestFromImage(readAsxipfs(buildAsxipfs([app, { path: 'app_manifest.json', data: manifestBytes('/bin') }]))), 2097175, '$.EntryPoint');
    });
  });

  it('serializeAppManifest round-trips and does not validate (so tests can send bad manifests)', () => {
    const manifest = parseAppManifest(SPEC_EXAMPLE);
    expect(parseAppManifest(serializeAppManifest(manifest))).to.deep.equal(manifest);
    const bad = { ...manifest, SchemaVersion: 9 };
    expect(JSON.parse(serializeAppManifest(bad)).SchemaVersion).to.equal(9);
  });
});
