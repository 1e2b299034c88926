import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express from 'express';
import { DaaService } from '../daa/daa-service.js';
import { createDaaRouter, type DaaRouter } from '../daa/http/daa-router.js';
import { BOARD_STATES } from '../device/board.js';
import { bindRealBoard } from '../device/mt3620/real-board-binding.js';
import { loadSigningRoles, type RoleKeys } from '../pki/signing-roles.js';
import { ScenarioCatalog } from '../scenario/scenario-catalog.js';
import type { Scenario } from '../scenario/scenario.js';
import { StepLibrary } from '../scenario/step-library.js';
import { BUILTIN_STEPS } from '../scenario/steps/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { InputError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { checkLoopbackHostPort, formatHostPort, type HostPort } from '../util/loopback-address.js';
import { apiRoutes } from './api-routes.js';
import { ApiTokenStore, ensureLocalAdminToken } from './api-token-store.js';
import { BOARD_HEALTH_STATUSES, BoardHealthBook } from './board-health.js';
import { BoardRegistry } from './board-registry.js';
import { daaAccess, defaultReferenceValues } from './daa-access.js';
import { daaRouteAccess } from './daa-route-access.js';
import { lingerOnEarlyAnswer } from './http-early-answer.js';
import { EmulatorChild } from './emulator-child.js';
import { EmulatorSupervisor } from './emulator-supervisor.js';
import { EventBus } from './event-bus.js';
import { EventStreamServer } from './event-stream-server.js';
import { hostCheck } from './host-check.js';
import { httpErrorHandler, notFoundHandler } from './http-errors.js';
import { DaemonMetrics } from './metrics.js';
import type { RigBoardConfig, RigConfig } from './rig-config.js';
import { RunEventPublisher } from './run-event-publisher.js';
import { RunScheduler } from './run-scheduler.js';
import { RunStore } from './run-store.js';
import { requireRole } from './auth.js';

/**
 * The rig daemon: owns the boards of one rig, runs scenarios on them, keeps
 * every result, and streams everything live. One HTTP server on loopback
 * carries the API (/api/v1), the event stream (/api/v1/stream), the DAA service
 * (/daa), /metrics and the dashboard (/).
 *
 * State folder:
 *   daemon.json      the URL of the running daemon (CLI commands read it)
 *   admin.token      the local admin API token (mode 0600)
 *   api-tokens.json  token hashes and roles
 *   runs.sqlite      run records; events.sqlite the event log
 *   daa/             the local DAA service; emulator/ the emulated chips
 *   work/<run>/      files runs write
 */
export interface DaemonOptions {
  rig: RigConfig;
  stateDir: string;
  /** A loopback address; default the rig's daemon.listen. Port 0 picks a free port. */
  listen?: HostPort;
  /** Serve the dashboard from this folder (static files). */
  dashboardDir?: string;
  scenarioDirs?: string[];
}

export const DAEMON_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const log = componentLogger('daemon');

/** Two daemons on one state folder would fight over the boards and the stores. */
function refuseSecondDaemon(stateDir: string): void {
  let running: { url?: string | null; pid?: number } = {};
  try {
    running = JSON.parse(readFileSync(join(stateDir, 'daemon.json'), 'utf8')) as typeof running;
  } catch {
    return;
  }
  if (!running.url || !running.pid || running.pid === process.pid) return;
  try {
    process.kill(running.pid, 0);
  } catch {
    return; // that daemon is gone (crashed or killed): its state is ours now
  }
  throw new InputError('daemon-running', `another daemon (pid ${running.pid}) serves this state folder at ${running.url}; stop it first`);
}

/** The health-check scenario of each driver kind, checked to exist when the daemon starts. */
function healthCheckScenarios(rig: RigConfig, catalog: ScenarioCatalog): Record<RigBoardConfig['driver'], Scenario | null> {
  const pick = (driver: RigBoardConfig['driver']): Scenario | null => {
    const name = rig.health.checks[driver];
    if (name === null) return null;
    if (!catalog.names().includes(name)) throw new InputError('rig-invalid', `${rig.source}: at $.health.checks.${driver}: no scenario named '${name}' (known: ${catalog.names().join(', ')})`);
    return catalog.get(name);
  };
  return { emulated: pick('emulated'), mt3620: pick('mt3620') };
}

export class Daemon {
  private constructor(
    readonly url: string,
    readonly adminToken: { token: string; path: string; created: boolean },
    readonly tokens: ApiTokenStore,
    readonly registry: BoardRegistry,
    readonly scheduler: RunScheduler,
    readonly runs: RunStore,
    readonly bus: EventBus,
    readonly daa: DaaService,
    private readonly server: Server,
    private readonly stream: EventStreamServer,
    private readonly emulator: EmulatorSupervisor | undefined,
    private readonly stateDir: string,
    private readonly daaRouter: DaaRouter,
  ) {}

  static async start(options: DaemonOptions): Promise<Daemon> {
    const { rig } = options;
    const listen = checkLoopbackHostPort(options.listen ?? rig.daemon.listen, 'the daemon listen address', { use: 'listen' });
    const stateDir = resolve(options.stateDir);
    mkdirSync(join(stateDir, 'work'), { recursive: true });

    refuseSecondDaemon(stateDir);
    const runs = RunStore.open(join(stateDir, 'runs.sqlite'));
    const interrupted = runs.markInterrupted();
    if (interrupted.length) log.warn('runs interrupted by the previous daemon marked infra-error', { runs: interrupted });
    const bus = EventBus.open({ path: join(stateDir, 'events.sqlite'), flushIntervalMs: eventFlushIntervalMs() });
    const events = new RunEventPublisher(bus);
    // Their end was never announced: a client following them must not wait for ever.
    for (const id of interrupted) {
      const record = runs.get(id);
      if (record) events.runEnded(record);
    }
    const tokens = ApiTokenStore.open(join(stateDir, 'api-tokens.json'));
    const adminToken = ensureLocalAdminToken(tokens, join(stateDir, 'admin.token'));
    const daa = await DaaService.open({ stateDir: join(stateDir, 'daa') });
    for (const tenant of rig.daa?.tenants ?? []) {
      if (!daa.listTenants().some((t) => t.name === tenant.name)) await daa.createTenant({ name: tenant.name });
      daa.setDevelopmentMode(tenant.name, tenant.developmentMode === 'forbidden' ? 'forbid' : 'allow');
      if (!daa.referenceValues(tenant.name)) daa.setReferenceValues(tenant.name, defaultReferenceValues(), 'rig default');
    }

    const library = new StepLibrary(BUILTIN_STEPS);
    const catalog = new ScenarioCatalog(library);
    for (const dir of options.scenarioDirs ?? []) catalog.loadDir(dir);
    const registry = new BoardRegistry(events);
    const emulatorState = join(stateDir, 'emulator');
    const healthChecks = healthCheckScenarios(rig, catalog);
    const healthBook = new BoardHealthBook(join(stateDir, 'board-health.json'));
    healthBook.on('change', (boardId, from, to, reason) => events.boardHealth(boardId, from, to, reason, healthBook.get(boardId).checking));
    let keys: RoleKeys[] | undefined;
    const scheduler = new RunScheduler({
      boards: () => registry.boards,
      library,
      services: (run) => {
        const workDir = join(stateDir, 'work', run.id);
        mkdirSync(workDir, { recursive: true });
        return {
          workDir,
          signingKeys: async () => (keys ??= await loadSigningRoles(join(emulatorState, 'keys'))),
          daa: daaAccess(daa),
          // Only emulated boards trust the rig-signed baseline a recovery would write.
          baselineOsVersion: registry.boards.get(run.boardId)?.identity.driver === 'emulated' ? baseline.osVersion : undefined,
        };
      },
      persist: (record) => runs.save(record),
      persistConsole: (runId, lines) => runs.appendConsole(runId, lines),
      observer: events,
      versions: { daemonVersion: DAEMON_VERSION, emulatorVersion: DAEMON_VERSION },
      health: healthBook,
      healthCheckFor: (board) => healthChecks[board.identity.driver],
    });
    const readiness = { ready: false };
    // The OS the emulated boards were provisioned with: what recoveries return them to.
    const baseline: { osVersion?: string } = {};

    const app = express();
    app.disable('x-powered-by');
    // First: every answer sent before a body was read (421 here, 401, 413, 415 later) must reach a client still uploading.
    app.use(lingerOnEarlyAnswer());
    app.use(hostCheck());
    const server = createServer(app);
    const stream = new EventStreamServer({ server, bus, verifier: tokens });
    const metrics = new DaemonMetrics({
      runs,
      bus,
      stream,
      boardStates: () => [...registry.boards.values()].map((b) => b.state()),
      knownBoardStates: BOARD_STATES,
      boardHealth: () => healthBook.entries(),
      knownHealth: BOARD_HEALTH_STATUSES,
    });
    app.use(
      '/api/v1',
      apiRoutes({
        boards: () => registry.boards,
        scheduler,
        runs,
        catalog,
        library,
        verifier: tokens,
        tokens,
        healthBook,
        // Ready once every configured board is registered (online, or offline with a reason); the DAA service opened before we serve.
        health: () => ({ ready: readiness.ready, version: DAEMON_VERSION, boards: registry.boards.size, expectedBoards: rig.boards.length, daa: 'up' }),
      }),
    );
    const daaRouter = createDaaRouter(daa);
    app.use('/daa', daaRouteAccess(tokens), daaRouter);
    app.get('/metrics', requireRole(tokens, 'viewer'), metrics.handler());
    if (options.dashboardDir) app.use('/', express.static(options.dashboardDir, { index: 'index.html', maxAge: 0 }));
    app.use(notFoundHandler(), httpErrorHandler());
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(listen.port, listen.host, () => done());
    });
    const url = `http://${formatHostPort(listen.host, (server.address() as AddressInfo).port)}`;

    let emulator: EmulatorSupervisor | undefined;
    const emulated = rig.boards.filter((b) => b.driver === 'emulated');
    try {
      if (emulated.length && rig.emulator) {
        log.info('provisioning emulated boards (existing ones are kept)', { count: rig.emulator.boards, state: emulatorState });
        baseline.osVersion = (await EmulatorChild.provision({ stateDir: emulatorState, boards: rig.emulator.boards, baselineApp: rig.emulator.baselineApp ?? false })).osVersion;
        // Powered off until claimed, so the first attestation at boot finds its tenant.
        // Restarted (its boards re-bound and powered on) if it dies; see EmulatorSupervisor.
        emulator = await EmulatorSupervisor.start({
          child: { stateDir: emulatorState, boards: rig.emulator.boards, speed: rig.emulator.speed, daaUrl: `${url}/daa`, poweredOff: true, trace: rig.emulator.trace },
          boards: emulated,
          registry,
          scheduler,
        });
      }
      await registry.bind(rig.boards, emulator?.boards ?? [], bindRealBoard);
      for (const board of registry.boards.values()) {
        const { deviceId, tenant } = board.identity;
        if (!deviceId || !tenant) continue;
        try {
          const known = daa.devices(tenant).some((d) => d.deviceId === deviceId);
          if (!known) daa.claimDevice(tenant, deviceId);
        } catch (error) {
          log.warn('device not claimed', { board: board.identity.id, error: (error as Error).message });
        }
      }
      for (const board of registry.boards.values()) {
        if (board.identity.driver === 'emulated' && board.state() === 'off') await board.power(true, { timeoutMs: 30_000 });
      }
      // Every board starts unknown and is health-checked before its first run (or trusted, if the rig says so).
      for (const board of registry.boards.values()) {
        const health = healthBook.register(board.identity.id);
        if (!rig.health.atStart && health.status === 'unknown') healthBook.set(board.identity.id, 'good', 'trusted at start (rig health.atStart: false)');
      }
      for (const boardId of registry.boards.keys()) scheduler.poke(boardId);
      emulator?.watch();
      readiness.ready = true;
    } catch (error) {
      await emulator?.stop();
      await stream.close();
      server.close();
      await daaRouter.close();
      await daa.close();
      throw error;
    }
    writeFileAtomic(join(stateDir, 'daemon.json'), `${JSON.stringify({ url, pid: process.pid, rig: rig.name, startedAt: new Date().toISOString() })}\n`);
    log.info('daemon up', { url, boards: registry.boards.size, rig: rig.name });
    return new Daemon(url, adminToken, tokens, registry, scheduler, runs, bus, daa, server, stream, emulator, stateDir, daaRouter);
  }

  /** Cancel runs (their teardowns run), stop the emulator, close stores: nothing finished is lost. */
  async close(): Promise<void> {
    // First: an emulator that exits from now on was stopped by us, not lost.
    this.emulator?.stopSupervising();
    await this.scheduler.close();
    await this.stream.close();
    // Stop accepting, then drop the idle keep-alive connections that would hold close() open.
    const closed = new Promise<void>((done) => this.server.close(() => done()));
    this.server.closeAllConnections?.();
    await closed;
    await this.registry.close();
    await this.emulator?.stop();
    await this.daaRouter.close();
    this.bus.close();
    this.runs.close();
    await this.daa.close();
    try {
      writeFileSync(join(this.stateDir, 'daemon.json'), `${JSON.stringify({ url: null, stoppedAt: new Date().toISOString() })}\n`);
    } catch {
      // the state folder may be gone already
    }
  }
}

/**
 * How long published events may wait to be written (`SPHERE_RIG_EVENT_FLUSH_MS`,
 * default 5 ms): a longer window writes bigger batches, and loses more to a crash
 * (announced to resuming clients; tests use it to lose events on purpose).
 */
function eventFlushIntervalMs(): number | undefined {
  const value = process.env.SPHERE_RIG_EVENT_FLUSH_MS;
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) throw new InputError('bad-setting', `SPHERE_RIG_EVENT_FLUSH_MS must be whole milliseconds from 1 to 3600000, got ${JSON.stringify(value)}`);
  return ms;
}
