import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { parseImagePackage, readImageFacts } from '../image/image-package.js';
import { verifyImagePackage } from '../image/image-signing.js';
import { ImageType, imageTypeName } from '../image/image-types.js';
import type { TrustedKeystore } from '../pki/trusted-keystore.js';
import { DeviceErrorCode } from '../util/device-error-codes.js';
import { componentLogger } from '../util/logger.js';
import { BEHAVIOUR_PATH, parseAppBehaviour, type AppBehaviour } from '../firmware/app-behaviour.js';
import { AppInstance } from './app-instance.js';
import { capabilitiesGranted, checkApplicationImage, type TrustedApplication } from './app-trust.js';
import { BoardClock, type Speed } from './board-clock.js';
import { BoardStorage, initialBootRecord, OTHER_SLOT, type BootRecord, type OsSlot } from './board-storage.js';
import { type ChipRecord, FLASH_FILE, loadChipRecord, romTrustOf, saveChipRecord } from './chip.js';
import { DeviceRefusal } from './device-error.js';
import { describeAppCrash, describeAppExit, ErrorReportLog } from './error-reports.js';
import { FlashDevice } from './flash/flash-device.js';
import { PowerCutError } from './flash/power-cut-error.js';
import { decodeKeystoreBody, KeystoreRole } from '../firmware/keystore-image.js';
import { BOOT_ORDER } from '../firmware/os-image-set.js';
import { runSecureBoot, type VerifiedImage } from './secure-boot.js';
import { diagnosticsLine, oneBlBootLines, PLUTON_BOOT_LINES } from './boot-uart-lines.js';
import type { LogArg } from '../firmware/device-log/log-param-codec.js';
import type { OsLogEvent, OsLogMessage } from './os-log-messages.js';
import { catalogCode } from '../util/device-error-catalog.js';

/**
 * One emulated MT3620: power, reset and recovery strap as the FTDI pins and a
 * power switch would drive them; the boot chain, A/B updates with trial boots
 * and rollback, anti-rollback fuses, apps and error reports. Its outputs are
 * what a real board's surfaces carry (`recovery-uart`: the 1BL and Pluton boot
 * lines; `diagnostics`: the debug UART's stand-in; `app-output`: a debugged
 * app's output port), the answers of its methods (REST API, control channel),
 * and `console`: the emulator-only readable trace of everything it does, which
 * nothing that judges a board may rely on. It never reaches into the rig.
 */
export type BoardState = 'off' | 'rom-recovery' | 'booting' | 'ready' | 'rom-wait' | 'hung';

export interface BoardTimings {
  /** Board-time pause between boot console lines. */
  bootLineMs: number;
  /** How long auto-start apps must stay up before a trial is committed. */
  healthWindowMs: number;
  /** A hung boot is reset by the watchdog after this long; 0 disables it. */
  watchdogMs: number;
  /** Trial boots allowed before an update is rolled back. */
  trialTries: number;
  /** Delay before the OS restarts an app that exited or crashed. */
  appRestartMs: number;
  /** How long the recovery agent's flash erase takes (a real board: about 18 s, recovery-protocol.md). */
  recoveryEraseMs: number;
}

export const TIMINGS: Readonly<Record<Speed, BoardTimings>> = {
  fast: { bootLineMs: 0, healthWindowMs: 300, watchdogMs: 500, trialTries: 3, appRestartMs: 50, recoveryEraseMs: 0 },
  real: { bootLineMs: 150, healthWindowMs: 30_000, watchdogMs: 10_000, trialTries: 3, appRestartMs: 1_000, recoveryEraseMs: 18_000 },
};

export interface BoardEvents {
  /** Emulator-only readable trace (no real board prints it anywhere). */
  console: [line: string];
  /** What the real recovery UART shows at boot outside a recovery session. */
  'recovery-uart': [line: string];
  /** The debug UART: Microsoft's diagnostics on a real board; a stand-in nothing depends on. */
  diagnostics: [line: string];
  /** Output of an app started in debug mode (TCP 2342 over the service link on a real board). */
  'app-output': [componentId: string, text: string];
  /** What an app writes to its ISU UART (wired on a bench to its own USB serial adapter). */
  'app-uart': [componentId: string, text: string];
  /** A trial (OS or app update) was committed after its health window. */
  committed: [];
  state: [state: BoardState];
  'power-cut': [info: { operation: number }];
  /** What the OS writes to its device log (os-log-messages.ts; device-log-recorder.ts keeps it). */
  'os-log': [event: OsLogEvent];
}

/** The service link's interface name on a device (networkd's log names it). */
const SERVICE_INTERFACE = 'azspheresvc';
/** networkd's uid in the device log (a system service's; the value is the emulator's). */
const NETWORKD_UID = 1005;
const UPDATE_COMMIT_FAILED = catalogCode('ImageUpdateError', 'UpdateCommitFailed');
const VERIFICATION_FAILED = catalogCode('ImageUpdateError', 'VerificationFailed');
/** An app refused for something other than a device refusal (its code is logged otherwise). */
const APP_INIT_FAILED = catalogCode('AppManagerError', 'AppSpecificInitializationFailed');

interface RunningOs {
  slot: OsSlot;
  osVersion: string;
  images: VerifiedImage[];
  keystore: TrustedKeystore;
  bootedAt: number;
}

export interface InstallResult {
  kind: 'os' | 'app' | 'capability';
  restartingSystem: boolean;
  componentId?: string;
  slot?: string;
}

export interface AppSummary {
  componentId: string;
  imageId: string;
  name: string;
  state: 'running' | 'stopped' | 'debugging' | 'refused';
  trial: boolean;
  slot: number;
  length: number;
}

/**
 * Device authentication as the OS sees it: kept by the attestation client (the
 * Pluton role) and read by the REST API (/net/status) and by apps that list
 * DeviceAuthentication in their manifest. Cleared at every boot.
 */
export interface DeviceAuthState {
  ready: boolean;
  certificatePem: string | null;
  chainPem: string | null;
  /** Board-clock ms since the epoch. */
  expiresAt: number | null;
  lastAttemptAt: number | null;
  lastError: string | null;
}

export const NO_DEVICE_AUTH: Readonly<DeviceAuthState> = Object.freeze({
  ready: false,
  certificatePem: null,
  chainPem: null,
  expiresAt: null,
  lastAttemptAt: null,
  lastError: null,
});

/** Something superseded a boot in flight (power off, reset): stop quietly. */
class Superseded extends Error {}

export class EmulatedBoard extends EventEmitter<BoardEvents> {
  readonly clock = new BoardClock();
  readonly chip: ChipRecord;
  readonly storage: BoardStorage;
  readonly reports: ErrorReportLog;
  timings: BoardTimings;
  speed: Speed;
  deviceAuth: DeviceAuthState = { ...NO_DEVICE_AUTH };
  #state: BoardState = 'off';
  #powered = false;
  #strapRecovery = false;
  #generation = 0;
  #running: RunningOs | undefined;
  #apps = new Map<string, { instance: AppInstance | undefined; app: TrustedApplication | undefined; refusal?: string }>();
  #healthTimer: number | undefined;
  #hangStage: string | undefined;
  #hangOnlyInTrial = false;
  #bootingTrial = false;
  #otaInProgress = false;
  #busy: Promise<unknown> = Promise.resolve();
  /** Board-clock time the current boot started: device-log timestamps count from it. */
  #bootStartedAt = 0;
  /** Process ids of app instances, as the device log names them. */
  #pids = new WeakMap<AppInstance, number>();
  #nextPid = 1000;
  readonly #log;

  private constructor(
    readonly dir: string,
    readonly name: string,
    flash: FlashDevice,
    speed: Speed,
  ) {
    super();
    this.chip = loadChipRecord(dir);
    this.storage = new BoardStorage(flash);
    this.reports = new ErrorReportLog(dir, this.chip.deviceId);
    this.speed = speed;
    this.timings = { ...TIMINGS[speed] };
    this.#log = componentLogger(`board:${name}`);
  }

  /** Opens the chip in `dir`; `flash` lets provisioning hand over a device it already opened. */
  static open(dir: string, options: { name?: string; speed?: Speed; flash?: FlashDevice } = {}): EmulatedBoard {
    const speed = options.speed ?? 'fast';
    const pace = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    const flash = options.flash ?? FlashDevice.openFile(join(dir, FLASH_FILE), undefined, speed === 'real' ? { pacer: pace } : {});
    return new EmulatedBoard(dir, options.name ?? dir, flash, speed);
  }

  get deviceId(): string {
    return this.chip.deviceId;
  }

  get state(): BoardState {
    return this.#state;
  }

  get powered(): boolean {
    return this.#powered;
  }

  get strapRecovery(): boolean {
    return this.#strapRecovery;
  }

  get osVersion(): string | undefined {
    return this.#running?.osVersion;
  }

  get activeSlot(): OsSlot | undefined {
    return this.#running?.slot;
  }

  get otaInProgress(): boolean {
    return this.#otaInProgress;
  }

  set otaInProgress(value: boolean) {
    this.#otaInProgress = value;
  }

  /** Uptime in seconds since the OS came up (board clock). */
  get uptimeSeconds(): number {
    return this.#running ? Math.floor((this.clock.now() - this.#running.bootedAt) / 1000) : 0;
  }

  /** The verified images of the running set, in boot order (attestation measures these). */
  get runningImages(): readonly VerifiedImage[] {
    return this.#running?.images ?? [];
  }

  get keystore(): TrustedKeystore | undefined {
    return this.#running?.keystore;
  }

  // ---- the pins and the power switch ------------------------------------------------

  async powerOn(): Promise<void> {
    if (this.#powered) return;
    this.#powered = true;
    this.storage.flash.powerOn();
    this.#startBoot();
  }

  powerOff(): void {
    if (!this.#powered) return;
    this.#halt();
    this.#powered = false;
    this.storage.flash.powerOff();
    this.#setState('off');
  }

  /** A pulse on SYSRST_N: the chip restarts; flash and fuses stay. */
  reset(): void {
    if (!this.#powered) return;
    this.#halt();
    this.#startBoot();
  }

  /** DEBUG_RTS, sampled at reset: high = ROM recovery mode. */
  setRecoveryStrap(high: boolean): void {
    this.#strapRecovery = high;
  }

  // ---- fault injection ----------------------------------------------------------------

  markFlash(): void {
    this.storage.flash.mark();
  }

  armPowerCut(beforeOperation: number): void {
    this.storage.flash.armPowerCut(beforeOperation);
  }

  disarmPowerCut(): void {
    this.storage.flash.disarmPowerCut();
  }

  /**
   * Stop the boot when the stage with this console prefix (e.g. KERNEL) starts;
   * with `onlyInTrial`, only while a new update is on trial (a bad new OS).
   */
  hangAtStage(stage: string | undefined, onlyInTrial = false): void {
    this.#hangStage = stage;
    this.#hangOnlyInTrial = onlyInTrial;
  }

  /** Flip bytes inside one image of an OS slot (a tampered or rotten image). */
  corruptOsImage(slot: OsSlot | 'active' | 'inactive', imageType: number): { offset: number } {
    const record = this.storage.readRecord() ?? initialBootRecord();
    const target: OsSlot = slot === 'active' ? record.active : slot === 'inactive' ? OTHER_SLOT[record.active] : slot;
    const read = this.storage.readOsSlot(target);
    if (!read.images) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `slot ${target} holds no image set`);
    const index = BOOT_ORDER.indexOf(imageType as (typeof BOOT_ORDER)[number]);
    if (index < 0) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `image type ${imageType} is not boot-critical`);
    // Offset of the image inside the slot: header of the blob, then the set container.
    const { offset: slotOffset } = this.storage.osSlotOffset(target);
    const image = read.images[index]!;
    const blobStart = this.storage.regions.headerSpan;
    const setHeader = 8 + read.images.length * 4;
    const before = read.images.slice(0, index).reduce((sum, b) => sum + b.length, 0);
    const offset = slotOffset + blobStart + setHeader + before + Math.floor(image.length / 3);
    this.storage.flash.corrupt(offset, 4);
    return { offset };
  }

  killApp(componentId: string, signal: number): void {
    const entry = this.#apps.get(componentId.toLowerCase());
    if (!entry?.instance) throw new DeviceRefusal(DeviceErrorCode.NoSuchApp, 404, `no app ${componentId} on this board`);
    entry.instance.kill(signal);
  }

  // ---- what the OS offers (REST API and OTA) ------------------------------------------

  /** The capabilities granted by the installed capability image, if it is valid here. */
  capabilities(): number[] {
    if (!this.chip.capabilityImage || !this.#running) return [];
    try {
      return capabilitiesGranted(Buffer.from(this.chip.capabilityImage, 'base64'), this.#running.keystore, this.chip.deviceId);
    } catch {
      return [];
    }
  }

  /** Capabilities a capability image sent with a request would grant (AZSPHERE-CAPABILITIES). */
  capabilitiesFrom(image: Buffer): number[] {
    if (!this.#running) return [];
    try {
      return capabilitiesGranted(image, this.#running.keystore, this.chip.deviceId);
    } catch {
      return [];
    }
  }

  apps(): AppSummary[] {
    const record = this.storage.readRecord();
    const out: AppSummary[] = [];
    for (const [componentId, entry] of this.#apps) {
      const rec = record?.apps[componentId];
      out.push({
        componentId,
        imageId: entry.app?.imageId ?? '',
        name: entry.app?.manifest.Name ?? '',
        state: entry.instance ? entry.instance.state : 'refused',
        trial: rec?.trial ?? false,
        slot: rec?.slot ?? -1,
        length: rec ? (this.storage.readAppSlot(rec.slot)?.length ?? 0) : 0,
      });
    }
    return out;
  }

  /**
   * Install what an update delivers: one app image, one capability image, or a
   * whole OS image set. Checks everything first; a refusal changes nothing.
   */
  install(images: Buffer[], options: { extraCapabilities?: number[] } = {}): Promise<InstallResult> {
    return this.#exclusive(() => this.#install(images, options.extraCapabilities ?? [])).catch((error: unknown) => {
      if (error instanceof DeviceRefusal) this.osLog('installRefused', error.deviceErrorCode);
      throw error;
    });
  }

  removeApp(componentId: string): Promise<{ restartingSystem: boolean }> {
    return this.#exclusive(async () => {
      const id = componentId.toLowerCase();
      const record = this.#requireRecord();
      if (!record.apps[id]) throw new DeviceRefusal(DeviceErrorCode.NoSuchApp, 404, `no app ${componentId} installed`);
      const next = structuredClone(record);
      delete next.apps[id];
      await this.#guardedWrite(next);
      this.#apps.get(id)?.instance?.stop();
      this.#apps.delete(id);
      this.#say(`[OS] app ${id} removed`);
      this.osLog('appRemoved', id);
      return { restartingSystem: false };
    });
  }

  appState(componentId: string): 'running' | 'stopped' | 'debugging' | 'notPresent' {
    const entry = this.#apps.get(componentId.toLowerCase());
    if (!entry) return 'notPresent';
    return entry.instance ? entry.instance.state : 'stopped';
  }

  startApp(componentId: string, debug = false): void {
    const entry = this.#apps.get(componentId.toLowerCase());
    if (!entry) throw new DeviceRefusal(DeviceErrorCode.NoSuchApp, 404, `no app ${componentId}`);
    if (!entry.instance) throw new DeviceRefusal(7340047, 403, entry.refusal ?? 'app refused');
    if (entry.instance.state !== 'stopped') throw new DeviceRefusal(DeviceErrorCode.AppInWrongState, 409, `app is ${entry.instance.state}`);
    entry.instance.start(debug);
    this.#say(`[APP] ${entry.instance.componentId} started${debug ? ' (debugging)' : ''}`);
    this.osLog(debug ? 'appDebugging' : 'appStarting', entry.instance.componentId);
  }

  stopApp(componentId: string): void {
    const entry = this.#apps.get(componentId.toLowerCase());
    if (!entry) throw new DeviceRefusal(DeviceErrorCode.NoSuchApp, 404, `no app ${componentId}`);
    if (!entry.instance || entry.instance.state === 'stopped') throw new DeviceRefusal(DeviceErrorCode.AppInWrongState, 409, 'app is not running');
    this.osLog('appStopping', entry.instance.componentId);
    entry.instance.stop();
    this.#say(`[APP] ${entry.instance.componentId} stopped`);
  }

  /** A restart requested through the OS (REST /restart): a clean reboot. */
  restart(): void {
    this.#say('[OS] restarting');
    this.osLog('rebooting');
    setImmediate(() => this.reset());
  }

  /** Real-board timings or as fast as possible; the clock rate itself never changes. */
  setSpeed(speed: Speed): void {
    this.speed = speed;
    this.timings = { ...TIMINGS[speed] };
  }

  saveChip(): void {
    saveChipRecord(this.dir, this.chip);
  }

  close(): void {
    this.#halt();
    this.storage.flash.close();
    this.removeAllListeners();
  }

  // ---- boot ---------------------------------------------------------------------------

  #startBoot(): void {
    const generation = ++this.#generation;
    this.#bootStartedAt = this.clock.now();
    this.#setState('booting');
    this.#busy = this.#boot(generation).catch((error) => this.#fault(error, generation));
  }

  #halt(): void {
    this.#generation++;
    this.clock.cancelAll();
    this.#healthTimer = undefined;
    for (const entry of this.#apps.values()) entry.instance?.stop();
    this.#apps.clear();
    this.#running = undefined;
    this.deviceAuth = { ...NO_DEVICE_AUTH };
  }

  async #boot(generation: number): Promise<void> {
    this.chip.bootCount += 1;
    this.saveChip();
    this.emit('diagnostics', diagnosticsLine(this.chip.bootCount));
    for (const line of oneBlBootLines(this.chip.deviceId, this.chip.bootCount)) this.emit('recovery-uart', line);
    if (this.#strapRecovery) {
      // Captured on a real board: Pluton boots the HLOS core before the recovery banner.
      for (const line of PLUTON_BOOT_LINES) this.emit('recovery-uart', line);
      this.#setState('rom-recovery');
      this.#say('RECOVERY');
      return;
    }
    await this.#line(generation, `[ROM] MT3620 boot ${this.chip.bootCount}`);
    let record = this.storage.readRecord();
    if (!record) {
      await this.#line(generation, '[ROM] boot control record unreadable; trying slot a, then b');
    } else if (record.trial) {
      record = await this.#trialBookkeeping(generation, record);
    }
    this.#bootingTrial = record?.trial ?? false;
    const order: OsSlot[] = record ? [record.active, OTHER_SLOT[record.active]] : ['a', 'b'];
    const romTrust = romTrustOf(this.chip);
    let booted: { slot: OsSlot; result: Extract<ReturnType<typeof runSecureBoot>, { ok: true }> } | undefined;
    for (const slot of order) {
      const read = this.storage.readOsSlot(slot);
      if (!read.images) {
        await this.#line(generation, `[ROM] slot ${slot}: no image set (${read.reason})`);
      } else {
        await this.#line(generation, `[ROM] booting slot ${slot}`);
        const result = runSecureBoot({
          images: read.images,
          romTrust,
          trustFromPem: (pem) => decodeKeystoreBody(pem),
          fuses: this.chip.fuses,
        });
        for (const line of result.lines) await this.#line(generation, line);
        if (result.ok) {
          booted = { slot, result };
          break;
        }
        this.osLog('updateFailed', VERIFICATION_FAILED);
        this.reports.record(
          { category: 'OS', eventClass: 'BootFailure', eventType: 'Unplanned', description: `BootFailure (slot=${slot}; stage=${result.failure.stage}; image_type=${result.failure.imageType === null ? 'none' : imageTypeName(result.failure.imageType)}; image_id=${result.failure.imageId ?? 'none'}; reason=${result.failure.reason})` },
          new Date(this.clock.now()),
        );
      }
      if (slot === order[0]) await this.#line(generation, `[ROM] falling back to backup slot ${order[1]}`);
    }
    if (!booted) {
      await this.#line(generation, '[ROM] no bootable image set; waiting for recovery');
      this.#setState('rom-wait');
      return;
    }
    if (record && booted.slot !== record.active) {
      // The active slot failed: the backup becomes active. During a trial that is a rollback.
      const wasTrial = record.trial;
      record = { ...record, active: booted.slot, previous: null, trial: false, triesLeft: 0, trialFailed: false, rollbacks: record.rollbacks + (wasTrial ? 1 : 0) };
      await this.#storeRecord(generation, record);
      if (wasTrial) this.#recordRollback('OS', `slot=${booted.slot}; reason=trial slot failed verification`);
    } else if (!record) {
      record = { ...initialBootRecord(), active: booted.slot };
      await this.#storeRecord(generation, record);
    }
    record = await this.#appTrialBookkeeping(generation, record);
    const keystore = decodeKeystoreBody(booted.result.keystorePem);
    this.#running = { slot: booted.slot, osVersion: booted.result.osVersion, images: booted.result.images, keystore, bootedAt: this.clock.now() };
    for (const line of PLUTON_BOOT_LINES) this.emit('recovery-uart', line);
    this.#osUpLog(booted.result.osVersion);
    await this.#line(generation, '[OS] services up');
    this.#setState('ready');
    this.osLog('appInitStart');
    for (const [componentId, app] of Object.entries(record.apps)) this.#loadApp(componentId, app.slot, true);
    this.osLog('appInitEnd');
    if (record.trial || Object.values(record.apps).some((a) => a.trial)) this.#startHealthWindow(generation);
  }

  /** A trial boot spends one try; a failed or exhausted trial rolls back to the previous slot. */
  async #trialBookkeeping(generation: number, record: BootRecord): Promise<BootRecord> {
    if ((record.trialFailed || record.triesLeft <= 0) && record.previous) {
      const from = record.active;
      const next: BootRecord = { ...record, active: record.previous, previous: null, trial: false, triesLeft: 0, trialFailed: false, rollbacks: record.rollbacks + 1 };
      await this.#storeRecord(generation, next);
      await this.#line(generation, `[ROM] rolling back to slot ${next.active}: trial of slot ${from} ${record.trialFailed ? 'failed its health check' : 'ran out of tries'}`);
      this.osLog('updateFailed', UPDATE_COMMIT_FAILED);
      this.#recordRollback('OS', `from_slot=${from}; to_slot=${next.active}`);
      return next;
    }
    const next = { ...record, triesLeft: record.triesLeft - 1 };
    await this.#storeRecord(generation, next);
    await this.#line(generation, `[ROM] trial boot of slot ${record.active} (${next.triesLeft} tries left)`);
    return next;
  }

  async #appTrialBookkeeping(generation: number, record: BootRecord): Promise<BootRecord> {
    const failed = Object.entries(record.apps).filter(([, a]) => a.trial && a.trialFailed);
    if (!failed.length) return record;
    const next = structuredClone(record);
    for (const [componentId, app] of failed) {
      if (app.previousSlot === null) delete next.apps[componentId];
      else next.apps[componentId] = { slot: app.previousSlot, previousSlot: null, trial: false, trialFailed: false };
    }
    next.rollbacks += failed.length;
    await this.#storeRecord(generation, next);
    for (const [componentId] of failed) {
      await this.#line(generation, `[OS] app ${componentId} rolled back to its previous image`);
      this.osLog('appInvalidated', componentId);
      this.#recordRollback('Application', `component_id=${componentId}`);
    }
    return next;
  }

  #startHealthWindow(generation: number): void {
    this.#say(`[OS] trial: health window ${this.timings.healthWindowMs} ms`);
    this.#healthTimer = this.clock.setTimer(this.timings.healthWindowMs, () => {
      this.#healthTimer = undefined;
      if (generation !== this.#generation) return;
      this.#busy = this.#exclusive(() => this.#commit(generation)).catch((error) => this.#fault(error, generation));
    });
  }

  /** Health window passed: confirm the trial and raise the fuses, never before. */
  async #commit(generation: number): Promise<void> {
    const record = this.#requireRecord();
    if (record.trialFailed || Object.values(record.apps).some((a) => a.trialFailed)) return;
    const next = structuredClone(record);
    const committedOs = next.trial;
    next.trial = false;
    next.triesLeft = 0;
    next.previous = null;
    const committedApps: string[] = [];
    for (const [componentId, app] of Object.entries(next.apps)) {
      if (!app.trial) continue;
      next.apps[componentId] = { slot: app.slot, previousSlot: null, trial: false, trialFailed: false };
      committedApps.push(componentId);
    }
    await this.#storeRecord(generation, next);
    const raise = (componentId: string, version: number) => {
      if (version > (this.chip.fuses[componentId] ?? 0)) this.chip.fuses[componentId] = version;
    };
    const when = new Date(this.clock.now());
    if (committedOs && this.#running) {
      for (const image of this.#running.images) raise(image.componentId, image.securityVersion);
      this.reports.record({ category: 'OS', eventClass: 'OSUpdate', eventType: 'Planned', description: `OSUpdate (os_version=${this.#running.osVersion}; slot=${this.#running.slot})` }, when);
      this.#say(`[OS] update committed: OS ${this.#running.osVersion} in slot ${this.#running.slot}`);
      this.osLog('updateCommitted');
    }
    for (const componentId of committedApps) {
      const app = this.#apps.get(componentId)?.app;
      if (app) raise(componentId, app.securityVersion);
      this.reports.record({ category: 'Application', eventClass: 'AppUpdate', eventType: 'Planned', description: `AppUpdate (component_id=${componentId}; image_id=${app?.imageId ?? 'unknown'})` }, when);
      this.#say(`[OS] app ${componentId} update committed`);
      this.osLog('updateCommitted');
    }
    this.saveChip();
    this.emit('committed');
  }

  // ---- apps ----------------------------------------------------------------------------

  /** `capabilities`: the installed ones, or those of the request that installs or starts it (a capability session). */
  #loadApp(componentId: string, slot: number, autoStart: boolean, capabilities: readonly number[] = this.capabilities()): void {
    const bytes = this.storage.readAppSlot(slot);
    const id = componentId.toLowerCase();
    if (!bytes || !this.#running) {
      this.#apps.set(id, { instance: undefined, app: undefined, refusal: 'image missing from flash' });
      this.#say(`[APP] ${id} refused: image missing from flash`);
      return;
    }
    let app: TrustedApplication;
    try {
      app = checkApplicationImage(bytes, this.#running.keystore, capabilities, this.chip.fuses);
    } catch (error) {
      const reason = error instanceof DeviceRefusal ? `${error.message} [${error.deviceErrorCode}]` : String(error);
      this.#apps.set(id, { instance: undefined, app: undefined, refusal: reason });
      this.#say(`[APP] ${id} refused: ${reason}`);
      this.osLog('appRefused', id, error instanceof DeviceRefusal ? error.deviceErrorCode : APP_INIT_FAILED);
      return;
    }
    let behaviour: AppBehaviour | undefined;
    if (app.paths.includes(BEHAVIOUR_PATH)) {
      try {
        behaviour = parseAppBehaviour(app.readFile(BEHAVIOUR_PATH));
      } catch (error) {
        this.#say(`[APP] ${id} behaviour file ignored: ${(error as Error).message}`);
      }
    }
    const generation = this.#generation;
    const instance: AppInstance = new AppInstance(id, app.imageId, app.manifest, behaviour, this.clock, {
      line: (text) => {
        this.#say(`[APP] ${id}: ${text}`);
        // Only a debugged app's output leaves the device (the debug output port).
        if (instance.state === 'debugging') this.emit('app-output', id, text);
      },
      uartLine: (text) => {
        this.#say(`[APP] ${id} UART: ${text}`);
        this.emit('app-uart', id, text);
      },
      exited: (code) => this.#appEnded(generation, instance, { exitCode: code }),
      crashed: (signal, signalCode) => this.#appEnded(generation, instance, { signal, signalCode }),
      connect: (host, allowed) => this.#say(`[APP] ${id} connect ${host}: ${allowed ? 'allowed' : 'denied (not in AllowedConnections)'}`),
      deviceAuth: () => this.#say(`[APP] ${id} device authentication: ${this.#deviceAuthStatus(app)}`),
    });
    this.#apps.get(id)?.instance?.stop();
    this.#apps.set(id, { instance, app });
    this.osLog('appParameters', ImageType.Applications, id, app.manifest.Name);
    if (autoStart) {
      instance.start();
      this.#say(`[APP] ${id} started`);
      this.osLog('appStarting', id);
    }
  }

  #deviceAuthStatus(app: TrustedApplication): string {
    if (!app.manifest.Capabilities.DeviceAuthentication) return 'denied (no DeviceAuthentication capability)';
    return this.deviceAuth.ready ? `certificate ready (expires ${new Date(this.deviceAuth.expiresAt ?? 0).toISOString()})` : 'not ready';
  }

  #appEnded(generation: number, instance: AppInstance, how: { exitCode?: number; signal?: number; signalCode?: number }): void {
    if (generation !== this.#generation) return;
    const when = new Date(this.clock.now());
    const ids = { componentId: instance.componentId, imageId: instance.imageId };
    if (how.signal !== undefined) {
      this.#say(`[APP] ${instance.componentId} crashed with signal ${how.signal}`);
      this.osLog('appSignaled', instance.componentId, how.signal, how.signalCode ?? 0);
      this.osLog('appKilledBySignal', this.#pid(instance), how.signal);
      this.reports.record({ category: 'Application', eventClass: 'AppCrash', eventType: 'Unplanned', description: describeAppCrash({ exitStatus: 0, signal: how.signal, signalCode: how.signalCode ?? 0, ...ids }) }, when);
    } else {
      this.#say(`[APP] ${instance.componentId} exited with code ${how.exitCode}`);
      this.osLog('appExited', this.#pid(instance), how.exitCode ?? 0);
      this.reports.record({ category: 'Application', eventClass: 'AppExit', eventType: how.exitCode === 0 ? 'Planned' : 'Unplanned', description: describeAppExit({ exitCode: how.exitCode ?? 0, ...ids }) }, when);
    }
    if (this.#healthTimer !== undefined) {
      this.#busy = this.#exclusive(() => this.#failTrial(generation, instance.componentId)).catch((error) => this.#fault(error, generation));
    }
    // The OS restarts high-level apps right after they exit.
    this.clock.setTimer(this.timings.appRestartMs, () => {
      if (generation !== this.#generation || this.#apps.get(instance.componentId)?.instance !== instance) return;
      if (instance.state !== 'stopped') return;
      instance.start();
      this.#pids.delete(instance);
      this.#say(`[APP] ${instance.componentId} restarted`);
      this.osLog('appRelaunched', instance.componentId);
    });
  }

  /** An auto-start app died inside the health window: the trial has failed. */
  async #failTrial(generation: number, componentId: string): Promise<void> {
    if (generation !== this.#generation || this.#healthTimer === undefined) return;
    this.clock.cancel(this.#healthTimer);
    this.#healthTimer = undefined;
    const record = this.#requireRecord();
    const next = structuredClone(record);
    if (next.trial) next.trialFailed = true;
    for (const app of Object.values(next.apps)) if (app.trial) app.trialFailed = true;
    await this.#storeRecord(generation, next);
    this.#say(`[OS] health check failed: app ${componentId} did not stay up; the update rolls back at the next reset`);
  }

  // ---- installing ----------------------------------------------------------------------

  async #install(images: Buffer[], extraCapabilities: number[]): Promise<InstallResult> {
    if (!this.#running || this.#state !== 'ready') throw new DeviceRefusal(10485765, 409, `board is ${this.#state}`);
    if (images.length === 0) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, 'nothing to install');
    this.osLog('installing');
    const types = images.map((bytes) => {
      try {
        return readImageFacts(parseImagePackage(bytes)).identity?.imageType ?? -1;
      } catch (error) {
        throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, (error as Error).message);
      }
    });
    if (images.length === 1 && types[0] === ImageType.Applications) return this.#installApp(images[0]!, extraCapabilities);
    if (images.length === 1 && types[0] === ImageType.FirmwareConfig) return this.#installCapability(images[0]!);
    return this.#installOs(images, types);
  }

  async #installApp(bytes: Buffer, extraCapabilities: number[]): Promise<InstallResult> {
    const running = this.#running!;
    const capabilities = [...new Set([...this.capabilities(), ...extraCapabilities])];
    const app = checkApplicationImage(bytes, running.keystore, capabilities, this.chip.fuses);
    const record = this.#requireRecord();
    if (bytes.length > this.storage.appSlotCapacity()) {
      throw new DeviceRefusal(14680082, 400, `image is ${bytes.length} bytes; an application slot holds ${this.storage.appSlotCapacity()}`);
    }
    const existing = record.apps[app.componentId];
    // A previous image still on trial is dropped rather than kept: its slot is reused.
    const base = structuredClone(record);
    if (existing?.trial && existing.previousSlot !== null) base.apps[app.componentId] = { ...existing, slot: existing.previousSlot, previousSlot: null, trial: false };
    const slot = this.storage.freeAppSlot(base);
    if (slot === undefined) throw new DeviceRefusal(14680082, 400, 'every application slot is in use');
    const generation = this.#generation;
    await this.#guarded(() => this.storage.writeAppSlot(slot, bytes));
    const readBack = this.storage.readAppSlot(slot);
    if (!readBack?.equals(bytes)) throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 500, 'application image did not verify after writing');
    const previous = base.apps[app.componentId];
    base.apps[app.componentId] = { slot, previousSlot: previous ? previous.slot : null, trial: true, trialFailed: false };
    await this.#guardedWrite(base);
    this.#say(`[OS] app ${app.componentId} installed in application slot ${slot}`);
    this.osLog('imageStaged', app.componentId, app.imageId, ImageType.Applications);
    if (generation === this.#generation) {
      this.#loadApp(app.componentId, slot, true, capabilities);
      if (this.#healthTimer === undefined) this.#startHealthWindow(generation);
    }
    return { kind: 'app', restartingSystem: false, componentId: app.componentId, slot: String(slot) };
  }

  async #installCapability(bytes: Buffer): Promise<InstallResult> {
    const granted = capabilitiesGranted(bytes, this.#running!.keystore, this.chip.deviceId);
    this.chip.capabilityImage = bytes.toString('base64');
    this.saveChip();
    this.#say(`[OS] capability image installed: ${granted.join(',')}`);
    this.#logStaged(bytes);
    return { kind: 'capability', restartingSystem: false };
  }

  async #installOs(images: Buffer[], types: number[]): Promise<InstallResult> {
    const running = this.#running!;
    // Put the set in boot order; each boot-critical type exactly once.
    const ordered = BOOT_ORDER.map((type) => {
      const index = types.indexOf(type);
      if (index < 0 || types.lastIndexOf(type) !== index) {
        throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `an OS image set needs exactly one ${imageTypeName(type)} image`);
      }
      return images[index]!;
    });
    if (images.length !== BOOT_ORDER.length) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `an OS image set has ${BOOT_ORDER.length} images, got ${images.length}`);
    for (const bytes of ordered) {
      const pkg = parseImagePackage(bytes);
      const check = verifyImagePackage(pkg, running.keystore);
      const role = check.thumbprint ? running.keystore.findByThumbprint(check.thumbprint)?.role : undefined;
      if (!check.verified || role !== KeystoreRole.Os) {
        throw new DeviceRefusal(7340047, 403, `${imageTypeName(readImageFacts(pkg).identity!.imageType)}: signature ${check.reason}`);
      }
    }
    const romTrust = romTrustOf(this.chip);
    const dryRun = runSecureBoot({ images: ordered, romTrust, trustFromPem: decodeKeystoreBody, fuses: this.chip.fuses });
    if (!dryRun.ok) {
      const { rollback, stage, reason } = dryRun.failure;
      throw new DeviceRefusal(rollback ? DeviceErrorCode.InstallationFailed : DeviceErrorCode.ImageInvalid, rollback ? 409 : 400, `${stage}: ${reason}`);
    }
    const total = ordered.reduce((sum, b) => sum + b.length, 0);
    if (total + 8 + ordered.length * 4 > this.storage.osSlotCapacity()) {
      throw new DeviceRefusal(14680082, 400, `image set is ${total} bytes; an OS slot holds ${this.storage.osSlotCapacity()}`);
    }
    const record = this.#requireRecord();
    const target = OTHER_SLOT[running.slot];
    this.#say(`[OS] writing OS ${dryRun.osVersion} to slot ${target}`);
    await this.#guarded(() => this.storage.writeOsSlot(target, ordered));
    const readBack = this.storage.readOsSlot(target);
    const verify = readBack.images ? runSecureBoot({ images: readBack.images, romTrust, trustFromPem: decodeKeystoreBody, fuses: this.chip.fuses }) : undefined;
    if (!verify?.ok) throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 500, `slot ${target} did not verify after writing`);
    await this.#guardedWrite({ ...record, active: target, previous: running.slot, trial: true, triesLeft: this.timings.trialTries, trialFailed: false });
    for (const bytes of ordered) this.#logStaged(bytes);
    this.osLog('rebootRequired');
    this.#say(`[OS] update staged in slot ${target}; restarting`);
    setImmediate(() => this.reset());
    return { kind: 'os', restartingSystem: true, slot: target };
  }

  // ---- plumbing ------------------------------------------------------------------------

  #requireRecord(): BootRecord {
    const record = this.storage.readRecord();
    if (!record) throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 500, 'boot control record unreadable');
    return record;
  }

  async #storeRecord(generation: number, record: BootRecord): Promise<void> {
    if (generation !== this.#generation) throw new Superseded();
    await this.storage.writeRecord(record);
    if (generation !== this.#generation) throw new Superseded();
  }

  /** A flash change outside the boot path: a power cut during it takes the board down. */
  async #guarded(operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (error instanceof PowerCutError) {
        this.#powerCut();
        throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 500, 'power lost during the flash write');
      }
      throw error;
    }
  }

  #guardedWrite(record: BootRecord): Promise<void> {
    return this.#guarded(() => this.storage.writeRecord(record));
  }

  #powerCut(): void {
    if (!this.#powered) return;
    const operation = this.storage.flash.operationsSinceMark;
    this.#log.info('power cut', { operation });
    this.#halt();
    this.#powered = false;
    this.storage.flash.powerOff();
    this.#setState('off');
    this.emit('power-cut', { operation });
  }

  #fault(error: unknown, generation: number): void {
    if (error instanceof Superseded) return;
    if (error instanceof PowerCutError) return this.#powerCut();
    if (generation !== this.#generation) return;
    this.#log.error('board fault', { error: error instanceof Error ? error.message : String(error) });
    this.#say(`[ROM] internal fault: ${error instanceof Error ? error.message : String(error)}`);
    this.#setState('rom-wait');
  }

  /** Serialise installs and commits: one flash writer at a time. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn, fn);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  #recordRollback(category: 'OS' | 'Application', detail: string): void {
    this.reports.record({ category, eventClass: 'Rollback', eventType: 'Unplanned', description: `Rollback (${detail})` }, new Date(this.clock.now()));
  }

  /** One boot console line, paced on the board clock; stops if superseded or hung. */
  async #line(generation: number, text: string): Promise<void> {
    if (generation !== this.#generation) throw new Superseded();
    const stage = /^\[([A-Z0-9]+)\]/.exec(text)?.[1];
    if (this.#hangStage && stage === this.#hangStage && (!this.#hangOnlyInTrial || this.#bootingTrial)) {
      this.#setState('hung');
      if (this.timings.watchdogMs > 0) {
        this.clock.setTimer(this.timings.watchdogMs, () => {
          if (generation !== this.#generation) return;
          this.#say('[WDT] watchdog reset');
          this.reset();
        });
      }
      throw new Superseded();
    }
    this.#say(text);
    if (this.timings.bootLineMs > 0) {
      await new Promise<void>((resolve) => this.clock.setTimer(this.timings.bootLineMs, resolve));
      if (generation !== this.#generation) throw new Superseded();
    }
  }

  #say(text: string): void {
    this.emit('console', text);
  }

  /** One device-log entry (os-log-messages.ts), stamped with the uptime of this boot. */
  osLog(message: OsLogMessage, ...args: LogArg[]): void {
    this.emit('os-log', { message, args, uptimeMs: this.clock.now() - this.#bootStartedAt });
  }

  /** What the OS's services log as it comes up. */
  #osUpLog(osVersion: string): void {
    this.osLog('loggerStarted');
    this.osLog('appmanInit');
    this.osLog('osVersion', osVersion);
    this.osLog('networkdInit');
    this.osLog('networkdStarting', NETWORKD_UID);
    this.osLog('interfaceAdded', SERVICE_INTERFACE);
    this.osLog('interfaceConnected', 1, SERVICE_INTERFACE);
  }

  #logStaged(bytes: Buffer): void {
    const identity = readImageFacts(parseImagePackage(bytes)).identity;
    if (identity) this.osLog('imageStaged', identity.componentId, identity.imageId, identity.imageType);
  }

  #pid(instance: AppInstance): number {
    let pid = this.#pids.get(instance);
    if (pid === undefined) this.#pids.set(instance, (pid = this.#nextPid++));
    return pid;
  }

  #setState(state: BoardState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }

  // ---- recovery: the recovery ROM service (src/emulator/recovery/) drives these ----------
  // Both go through this.storage, so every flash operation is counted and an armed
  // power cut falls on it as on any other write (the board then powers off).

  /**
   * The recovery agent's flash erase (RAEraseFlashStarted .. RAEraseFlashComplete):
   * the first block of every partition, which holds its header, so nothing there
   * reads back, and both boot-control copies. A real board keeps its capability
   * image in flash, so it goes too; recoveryWrite installs one if the host sent it.
   */
  async recoveryErase(): Promise<void> {
    const generation = this.#requireRomRecovery('erase the flash');
    const layout = this.storage.layout;
    const blocks = [...layout.bootControl, layout.osSlots.a, layout.osSlots.b, ...layout.appSlots].map((region) => region.firstBlock);
    this.osLog('recoveryErasing');
    await this.#guarded(async () => {
      for (const block of blocks) {
        this.#requireSameRecovery(generation);
        await this.storage.flash.erase(block);
      }
    });
    this.chip.capabilityImage = null;
    this.saveChip();
  }

  /**
   * Writes a verified OS image set (in boot order) into both OS slots, then a
   * fresh boot-control record: slot a active, no apps. Identity, fuses and error
   * reports stay; `capability` becomes the installed capability image.
   */
  async recoveryWrite(osImages: Buffer[], capability?: Buffer): Promise<void> {
    const generation = this.#requireRomRecovery('write an image set');
    if (osImages.length !== BOOT_ORDER.length) {
      throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `an OS image set has ${BOOT_ORDER.length} images, got ${osImages.length}`);
    }
    await this.#guarded(async () => {
      await this.storage.writeOsSlot('a', osImages);
      this.#requireSameRecovery(generation);
      await this.storage.writeOsSlot('b', osImages);
      this.#requireSameRecovery(generation);
      await this.storage.writeRecord(initialBootRecord());
    });
    if (capability) this.chip.capabilityImage = capability.toString('base64');
    this.saveChip();
    this.osLog('recoveryWritten');
  }

  #requireRomRecovery(what: string): number {
    if (!this.#powered || this.#state !== 'rom-recovery') {
      throw new DeviceRefusal(10485765, 409, `cannot ${what}: the board is ${this.#state}, not in ROM recovery`);
    }
    return this.#generation;
  }

  /** A reset or power cut between two flash writes ends the recovery's writing. */
  #requireSameRecovery(generation: number): void {
    if (generation !== this.#generation) throw new DeviceRefusal(10485765, 409, 'the board was reset during the recovery write');
  }

  // ==== REST API support (src/emulator/rest/): appended; nothing above is changed for it ====

  /**
   * Loads and starts an installed app with capabilities a request brought in
   * its AZSPHERE-CAPABILITIES header (a capability session), for an app the OS
   * refused to load with the installed capabilities alone (a development-signed
   * app sideloaded without AppDevelopment installed). It runs until the next
   * boot, when only installed capabilities count again. A refusal (the session
   * grants too little) is thrown with the device's code and changes nothing.
   */
  startAppWithCapabilities(componentId: string, capabilities: readonly number[]): void {
    const id = componentId.toLowerCase();
    const entry = this.#apps.get(id);
    const slot = this.storage.readRecord()?.apps[id]?.slot;
    const bytes = slot === undefined ? undefined : this.storage.readAppSlot(slot);
    if (!entry || slot === undefined || !bytes || !this.#running) throw new DeviceRefusal(14680076, 400, `no app ${componentId} is installed`);
    if (entry.instance) {
      this.startApp(id);
      return;
    }
    const session = [...new Set([...this.capabilities(), ...capabilities])];
    checkApplicationImage(bytes, this.#running.keystore, session, this.chip.fuses);
    this.#loadApp(id, slot, true, session);
  }
}
