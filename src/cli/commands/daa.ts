import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DaaClient } from '../../daa/daa-client.js';
import { DaaError } from '../../daa/daa-error.js';
import { startDaaServer } from '../../daa/daa-server.js';
import { DaaService, type DeviceInfo, type TenantCaEntry, type TenantInfo } from '../../daa/daa-service.js';
import type { AuditEntry, AuditFilter } from '../../daa/audit-log.js';
import type { AuthorityStatus } from '../../daa/local-pki.js';
import { parseReferenceValues, type ReferenceValues } from '../../daa/reference-values.js';
import type { RelyingPartyRequest, RelyingPartyVerdict } from '../../daa/relying-party.js';
import type { DevelopmentModePolicy } from '../../daa/tenant-registry.js';
import { ControlClient } from '../../device/emulated/control-client.js';
import { action, UsageError } from '../action.js';
import { ExitCode } from '../exit-codes.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { loopbackHttpUrl } from '../../util/loopback-address.js';
import { parseCount, parseLoopbackFlag, parseLoopbackUrlFlag } from '../parse-options.js';
import { defaultStateDir } from './up.js';

/**
 * `sphere-rig daa ...`: the local DAA service. `serve` runs it; the other
 * commands manage it either through a running service (`--service URL`, or
 * SPHERE_RIG_DAA_URL) or, without one, by opening its state folder directly
 * (`--state DIR`, default $SPHERE_RIG_HOME/daa). Both are safe while a service
 * runs on the same state: SQLite serialises the writers.
 */
interface TargetFlags {
  service?: string;
  token?: string;
  state?: string;
  json?: boolean;
}

type Awaitable<T> = T | Promise<T>;

/** What the commands need; DaaService (direct) and DaaClient (HTTP) both offer it. */
interface DaaOperations {
  createTenant(params: { name: string; developmentMode?: DevelopmentModePolicy }): Awaitable<TenantInfo>;
  listTenants(): Awaitable<TenantInfo[]>;
  setDevelopmentMode(ref: string, policy: DevelopmentModePolicy): Awaitable<TenantInfo>;
  claimDevice(ref: string, deviceId: string): Awaitable<DeviceInfo>;
  revokeDevice(deviceId: string, reason?: string): Awaitable<DeviceInfo>;
  setReferenceValues(ref: string, document: unknown): Awaitable<ReferenceValues>;
  tenantCaList(ref: string): Awaitable<TenantCaEntry[]>;
  tenantCaPem(ref: string, thumbprint?: string): Awaitable<string>;
  tenantChainPkcs7(ref: string, thumbprint?: string): Awaitable<string>;
  tenantCrlPem(ref: string, thumbprint?: string): Awaitable<string>;
  rotateTenantCa(ref: string, activate: boolean): Awaitable<TenantCaEntry>;
  setTenantCaStatus(ref: string, thumbprint: string, status: AuthorityStatus): Awaitable<TenantCaEntry>;
  verifyPresentedChain(request: RelyingPartyRequest): Awaitable<RelyingPartyVerdict>;
  audit(filter: AuditFilter): Awaitable<AuditEntry[]>;
}

const DEFAULT_LISTEN = '127.0.0.1:7430';

function defaultDaaState(): string {
  return join(defaultStateDir(), 'daa');
}

async function withDaa<T>(flags: TargetFlags, use: (daa: DaaOperations) => Promise<T>): Promise<T> {
  if (flags.service !== undefined) return useService(parseLoopbackUrlFlag(flags.service, '--service'), flags, use);
  if (process.env.SPHERE_RIG_DAA_URL) return useService(loopbackHttpUrl(process.env.SPHERE_RIG_DAA_URL, 'SPHERE_RIG_DAA_URL'), flags, use);
  if (flags.token !== undefined) throw new UsageError('--token goes with --service (or SPHERE_RIG_DAA_URL): the state folder is opened directly, with no token');
  const service = await DaaService.open({ stateDir: resolve(flags.state ?? defaultDaaState()) });
  try {
    return await use(service);
  } finally {
    await service.close();
  }
}

/** Over HTTP; a daemon's /daa that refuses for want of a token says which flag gives one. */
async function useService<T>(url: string, flags: TargetFlags, use: (daa: DaaOperations) => Promise<T>): Promise<T> {
  const token = flags.token ?? process.env.SPHERE_RIG_TOKEN;
  try {
    return await use(new DaaClient(url, token ? { token } : {}));
  } catch (error) {
    if (!(error instanceof DaaError) || (error.status !== 401 && error.status !== 403)) throw error;
    const hint = error.status === 401 ? 'give --token or SPHERE_RIG_TOKEN' : 'this token may not; reading needs a viewer token, changing an operator token';
    throw new DaaError(error.code, error.status, `${error.message}: ${hint}`, error.details, { cause: error });
  }
}

function print(flags: TargetFlags, value: unknown, text: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

function target<C extends Command>(command: C): C {
  return command
    .option('--service <url>', 'a running DAA service (http://127.0.0.1:PORT, or the daemon\'s http://127.0.0.1:8480/daa); default $SPHERE_RIG_DAA_URL')
    .option('--token <token>', "with --service at a daemon's /daa: an API token (viewer to read, operator to change); default $SPHERE_RIG_TOKEN")
    .option('--state <dir>', 'without --service: the state folder to open directly (default $SPHERE_RIG_HOME/daa)')
    .option('--json', 'print the result as JSON') as C;
}

function policyOf(text: string | undefined): DevelopmentModePolicy | undefined {
  if (text === undefined) return undefined;
  if (text !== 'allow' && text !== 'forbid') throw new UsageError(`--dev-mode must be allow or forbid, got ${JSON.stringify(text)}`);
  return text;
}

export function registerDaaCommands(program: Command): void {
  const daa = program
    .command('daa')
    .description('The local device authentication and attestation (DAA) service: tenants, CAs, claims, reference values, attestation');

  daa
    .command('serve')
    .description('Run the local DAA service on loopback until Ctrl-C')
    .option('--state <dir>', 'state folder (daa.sqlite is created in it)', defaultDaaState())
    .option('--listen <host:port>', 'loopback address to listen on, 127.0.0.1:PORT or [::1]:PORT (port 0: any free port; host names, localhost included, are refused)', DEFAULT_LISTEN)
    .option('--json', 'print {url, stateDir} as one JSON line once listening')
    .addHelpText(
      'after',
      `
Endpoints (JSON): POST /sessions, POST /sessions/:id/evidence, /tenants..., /devices/:id,
/pki/root, /pki/crl, POST /verify, GET /audit; see src/daa/http/daa-router.ts.
What devices and relying parties use is open; managing the service (tenants, claims,
reference values, CAs, audit) takes an API token as on the daemon: viewer to read,
operator to change. Its admin token is written to <state>/admin.token (mode 0600);
give it with --token or SPHERE_RIG_TOKEN to \`sphere-rig daa ... --service URL\`.
Emulated boards attest to it with: sphere-rig emulator run --daa-url <url>`,
    )
    .action(
      action(async (flags: { state: string; listen: string; json?: boolean }) => {
        const { host, port } = parseLoopbackFlag(flags.listen, '--listen', { use: 'listen' });
        const stateDir = resolve(flags.state);
        const service = await DaaService.open({ stateDir });
        // Managing it takes the same tokens and roles as the daemon: its admin token is kept in the state folder.
        const server = await startDaaServer({ service, host, port, tokenDir: stateDir }).catch(async (error: unknown) => {
          await service.close();
          throw error;
        });
        const tokenPath = server.adminToken?.path ?? null;
        print(
          flags,
          { url: server.url, stateDir, adminToken: tokenPath },
          `DAA service on ${server.url} (state ${stateDir}); admin token ${tokenPath ?? '-'}${server.adminToken?.created ? ' (new)' : ''}; Ctrl-C to stop`,
        );
        const maintenance = setInterval(
          () => void service.maintainTenantCas().catch((error: unknown) => process.stderr.write(`sphere-rig: tenant CA rotation failed (tried again in an hour): ${(error as Error).message}\n`)),
          3600_000,
        );
        maintenance.unref();
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        clearInterval(maintenance);
        await server.close();
        await service.close();
      }),
    );

  const tenant = daa.command('tenant').description('Tenants: each has its own CA, devices, reference values and policy');
  target(tenant.command('create').argument('<name>', 'tenant name').description('Create a tenant and its CA'))
    .option('--dev-mode <policy>', "development-mode devices: 'allow' (default) or 'forbid'")
    .action(
      action(async (name: string, flags: TargetFlags & { devMode?: string }) => {
        const created = await withDaa(flags, async (d) => d.createTenant({ name, developmentMode: policyOf(flags.devMode) }));
        print(flags, created, `tenant ${created.name} ${created.id}  CA ${created.activeCa?.thumbprint ?? '-'}`);
      }),
    );
  target(tenant.command('list').description('List tenants')).action(
    action(async (flags: TargetFlags) => {
      const tenants = await withDaa(flags, async (d) => d.listTenants());
      const lines = tenants.map((t) => `${t.id}  ${t.name.padEnd(20)} devices ${t.devices}  dev-mode ${t.developmentMode}  reference ${t.hasReferenceValues ? 'set' : 'none'}`);
      print(flags, tenants, lines.length ? lines.join('\n') : 'no tenants');
    }),
  );
  target(tenant.command('policy').argument('<tenant>', 'tenant name or id').description("Set a tenant's development-mode policy"))
    .requiredOption('--dev-mode <policy>', "'allow' or 'forbid'")
    .action(
      action(async (ref: string, flags: TargetFlags & { devMode: string }) => {
        const updated = await withDaa(flags, async (d) => d.setDevelopmentMode(ref, policyOf(flags.devMode)!));
        print(flags, updated, `tenant ${updated.name}: development mode ${updated.developmentMode}`);
      }),
    );

  target(daa.command('claim').argument('<device-id>', '128-hex device ID').description('Claim a device to a tenant (a device belongs to exactly one)'))
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .action(
      action(async (deviceId: string, flags: TargetFlags & { tenant: string }) => {
        const device = await withDaa(flags, async (d) => d.claimDevice(flags.tenant, deviceId));
        print(flags, device, `device ${device.deviceId.slice(0, 16)}... claimed to ${device.tenant}`);
      }),
    );
  target(daa.command('revoke').argument('<device-id>', '128-hex device ID').description('Revoke a device and the certificates issued to it'))
    .option('--reason <text>', 'why, for the audit trail')
    .action(
      action(async (deviceId: string, flags: TargetFlags & { reason?: string }) => {
        const device = await withDaa(flags, async (d) => d.revokeDevice(deviceId, flags.reason));
        print(flags, device, `device ${device.deviceId.slice(0, 16)}... revoked ${device.revokedAt}`);
      }),
    );

  const reference = daa.command('reference').description("A tenant's reference values: trusted images, required components, security floors");
  target(reference.command('set').argument('<file>', 'YAML or JSON reference values').description("Replace a tenant's reference values from a file"))
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .addHelpText(
      'after',
      `
File format (YAML or JSON):
  allowUnlistedComponents: false      # a measured component not listed is refused
  components:
    - componentId: <GUID>
      name: OS services               # optional
      required: true                  # must be measured
      minimumSecurityVersion: 2       # security-version floor
      trustedImageHashes: [<sha256>]  # or trustedImageIds: [<GUID>]; neither = any image
      untrustedImageHashes: []        # and untrustedImageIds: images refused outright`,
    )
    .action(
      action(async (file: string, flags: TargetFlags & { tenant: string }) => {
        // Checked here first so that errors name the file, whichever way the values travel.
        const values = parseReferenceValues(readInputFile(file, 'reference values').toString('utf8'), file);
        const stored = await withDaa(flags, async (d) => d.setReferenceValues(flags.tenant, values));
        print(flags, stored, `reference values of ${flags.tenant}: ${stored.components.length} component(s)`);
      }),
    );

  const ca = daa.command('ca').description("A tenant's CA: list, download, rotate, set status");
  target(ca.command('list').description("List a tenant's CA certificates (thumbprint, status)"))
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .action(
      action(async (flags: TargetFlags & { tenant: string }) => {
        const list = await withDaa(flags, async (d) => d.tenantCaList(flags.tenant));
        print(flags, list, list.map((c) => `${c.thumbprint}  ${c.status.padEnd(8)} #${c.generation}  until ${c.notAfter}`).join('\n'));
      }),
    );
  target(ca.command('download').description('Download the tenant CA (PEM), its chain (--chain, PKCS#7) or its CRL (--crl)'))
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .option('--thumbprint <sha1>', 'a CA other than the active one')
    .option('--chain', 'the PKCS#7 chain: tenant CA, intermediate, root')
    .option('--crl', 'the CRL of the device certificates revoked')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(
      action(async (flags: TargetFlags & { tenant: string; thumbprint?: string; chain?: boolean; crl?: boolean; out?: string }) => {
        if (flags.chain && flags.crl) throw new UsageError('choose one of --chain and --crl');
        const text = await withDaa(flags, async (d) =>
          flags.chain ? d.tenantChainPkcs7(flags.tenant, flags.thumbprint) : flags.crl ? d.tenantCrlPem(flags.tenant, flags.thumbprint) : d.tenantCaPem(flags.tenant, flags.thumbprint),
        );
        if (flags.out) writeOutputFile(flags.out, text);
        else process.stdout.write(text);
      }),
    );
  target(ca.command('rotate').description('Issue a successor tenant CA now (it becomes Active at the current one\'s expiry, or now with --activate)'))
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .option('--activate', 'make the successor the Active CA now')
    .action(
      action(async (flags: TargetFlags & { tenant: string; activate?: boolean }) => {
        const entry = await withDaa(flags, async (d) => d.rotateTenantCa(flags.tenant, flags.activate === true));
        print(flags, entry, `${entry.thumbprint}  ${entry.status}  #${entry.generation}  until ${entry.notAfter}`);
      }),
    );
  target(ca.command('status').argument('<thumbprint>', 'SHA-1 thumbprint of the tenant CA').argument('<status>', 'Active, Inactive or Revoked'))
    .description('Set a tenant CA\'s status (Revoked is final)')
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .action(
      action(async (thumbprint: string, status: string, flags: TargetFlags & { tenant: string }) => {
        if (status !== 'Active' && status !== 'Inactive' && status !== 'Revoked') throw new UsageError(`status must be Active, Inactive or Revoked, got ${status}`);
        const entry = await withDaa(flags, async (d) => d.setTenantCaStatus(flags.tenant, thumbprint, status));
        print(flags, entry, `${entry.thumbprint}  ${entry.status}`);
      }),
    );

  daa
    .command('attest')
    .description("Make an emulated board attest now (its control channel's `attest`) and show the result")
    .requiredOption('--board <host:port>', "the board's control port on loopback, e.g. 127.0.0.1:40123")
    .option('--timeout <ms>', 'how long to wait for the result', '30000')
    .option('--json', 'print the whole outcome as JSON')
    .action(
      action(async (flags: { board: string; timeout: string; json?: boolean }) => {
        const { host, port } = parseLoopbackFlag(flags.board, '--board', { use: 'connect' });
        const timeoutMs = parseCount(flags.timeout, '--timeout', 1, 600_000);
        const control = await ControlClient.connect({ host, port, timeoutMs });
        let outcome: Record<string, unknown>;
        try {
          outcome = await control.request('attest', {}, { timeoutMs });
        } finally {
          await control.close();
        }
        const verdict = String(outcome.verdict);
        const reasons = (outcome.reasons as Array<{ code: string; detail: string }> | undefined) ?? [];
        const auth = outcome.deviceAuth as { ready: boolean; expiresAt: number | null };
        const lines = [`attestation ${verdict}${outcome.serialNumber ? `: certificate ${String(outcome.serialNumber)}` : ''}`];
        if (auth?.expiresAt) lines.push(`  device authentication ready until ${new Date(auth.expiresAt).toISOString()} (board time)`);
        for (const reason of reasons) lines.push(`  ${reason.code}: ${reason.detail}`);
        if (outcome.error) lines.push(`  ${String(outcome.error)}`);
        print(flags, outcome, lines.join('\n'));
        return verdict === 'affirming' ? ExitCode.ok : verdict === 'refused' ? ExitCode.testFailed : ExitCode.infraError;
      }),
    );

  target(daa.command('verify').argument('<cert>', "the device's certificate (PEM; a bundle is taken as leaf first)"))
    .description('Relying-party check: is this device certificate valid now, for which device and tenant, and why not')
    .option('--chain <file>', 'intermediate certificates presented with it (repeatable)', collect, [])
    .option('--device <id>', 'the board under test: the certificate must be for this device')
    .option('--trust <file>', "trust these CA certificates instead of the local service's PKI (a real tenant's downloaded CA)")
    .action(
      action(async (cert: string, flags: TargetFlags & { chain: string[]; device?: string; trust?: string }) => {
        const chainPem = [cert, ...flags.chain].map((file) => readInputFile(file, 'certificate').toString('utf8')).join('\n');
        const trustAnchorsPem = flags.trust ? readInputFile(flags.trust, 'trust anchors').toString('utf8') : undefined;
        const verdict = await withDaa(flags, async (d) => d.verifyPresentedChain({ chainPem, expectedDeviceId: flags.device, trustAnchorsPem }));
        const lines = [
          `${verdict.valid ? 'valid' : 'NOT valid'}: device ${verdict.deviceId ?? '?'} tenant ${verdict.tenant ?? '?'} until ${verdict.notAfter ?? '?'}`,
          ...verdict.problems.map((p) => `  ${p.code}: ${p.detail}`),
        ];
        print(flags, verdict, lines.join('\n'));
        return verdict.valid ? ExitCode.ok : ExitCode.testFailed;
      }),
    );

  target(daa.command('audit').description('Show the attestations the service appraised, newest first'))
    .option('--device <id>', 'only this device')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--limit <n>', 'how many', '20')
    .action(
      action(async (flags: TargetFlags & { device?: string; tenant?: string; limit: string }) => {
        const entries = await withDaa(flags, async (d) => d.audit({ deviceId: flags.device, tenant: flags.tenant, limit: parseCount(flags.limit, '--limit', 1, 10_000) }));
        const lines = entries.map((e) => `${e.at}  ${e.verdict.padEnd(9)} ${(e.deviceId ?? '-').slice(0, 16)}  ${e.verdict === 'affirming' ? (e.certificateSerial ?? '') : e.reasons.map((r) => r.code).join(',')}`);
        print(flags, entries, lines.length ? lines.join('\n') : 'no attestations');
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
