import type { Command } from 'commander';
import { action, UsageError } from '../action.js';
import { daemonRequest } from '../daemon-connection.js';
import { oneLine } from '../event-lines.js';
import { connect, parseChoice, withConnection, type ConnectionFlags } from '../rig-options.js';

/**
 * Commands for lab scripts and CI that talk to a running daemon. Each concern
 * has its file: run.ts (run), boards.ts (boards and what to do to one),
 * runs.ts (history), watch.ts (live events), leases.ts (lease, release,
 * cancel); this one has scenarios and tokens.
 */
interface ParamDeclaration {
  type?: string;
  description?: string;
  required?: boolean;
  default?: unknown;
}

export function registerRigCommands(program: Command): void {
  withConnection(program.command('scenarios').description('List the scenarios the daemon knows, with their steps and parameters').option('--json', 'print JSON')).action(
    action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const scenarios = await daemonRequest<Array<{ name: string; description: string; steps: Array<{ name: string }>; params: Record<string, unknown> }>>(await connect(flags), 'GET', '/api/v1/scenarios');
      if (flags.json) return void process.stdout.write(`${JSON.stringify(scenarios, null, 2)}\n`);
      for (const s of scenarios) {
        const params = Object.entries(s.params ?? {}).map(([name, value]) => describeParam(name, value));
        process.stdout.write(`${s.name.padEnd(26)} ${s.steps.length} steps${params.length ? `, params: ${params.join(', ')}` : ''}\n  ${oneLine(s.description, 1000)}\n`);
      }
    }),
  );

  const token = program.command('token').description('API tokens of the daemon (admin)');
  withConnection(
    token
      .command('create')
      .description('Create an API token (admin); its secret is printed once')
      .requiredOption('--name <name>', 'who or what uses it, e.g. qa-dashboard')
      .requiredOption('--role <role>', 'viewer (read), operator (run scenarios, act on boards) or admin (also tokens)'),
  ).action(
    action(async (flags: ConnectionFlags & { name: string; role: string }) => {
      const role = parseChoice(flags.role, '--role', ['viewer', 'operator', 'admin'] as const);
      if (!flags.name.trim()) throw new UsageError('--name must not be empty');
      const created = await daemonRequest<{ token: string; id: string }>(await connect(flags), 'POST', '/api/v1/tokens', { name: flags.name, role });
      process.stdout.write(`${created.token}\n`);
    }),
  );
  withConnection(token.command('list').description('List API tokens (names, roles, ids; never secrets) (admin)')).action(
    action(async (flags: ConnectionFlags) => {
      const tokens = await daemonRequest<Array<Record<string, unknown>>>(await connect(flags), 'GET', '/api/v1/tokens');
      for (const t of tokens) process.stdout.write(`${String(t.id)}  ${String(t.role).padEnd(9)} ${String(t.name)}\n`);
    }),
  );
}

/** `name` for an old-style default, `name (integer, required)` for a declaration. */
function describeParam(name: string, value: unknown): string {
  if (value && typeof value === 'object' && 'type' in value) {
    const d = value as ParamDeclaration;
    return `${name} (${[d.type, d.required ? 'required' : d.default !== undefined ? `default ${JSON.stringify(d.default)}` : 'optional'].filter(Boolean).join(', ')})`;
  }
  return name;
}
