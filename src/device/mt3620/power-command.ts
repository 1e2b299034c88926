import { InputError, RigError } from '../../util/failure.js';
import type { CommandRunner } from './command-runner.js';

/**
 * A real board's power switch: the rig's `power.command`, a shell command line
 * in which `{action}` becomes on, off or cycle (a relay script, a PDU's CLI,
 * `uhubctl -l 1-1 -p 2 -a {action}`). It must exit 0 on success; it runs with
 * a timeout and is killed (with its children) when that passes or the caller
 * cancels.
 */
export type PowerAction = 'on' | 'off' | 'cycle';

export interface PowerSwitch {
  readonly description: string;
  switch(action: PowerAction, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
}

export const DEFAULT_POWER_TIMEOUT_MS = 30_000;

export function powerCommandLine(template: string, action: PowerAction): string {
  return template.replaceAll('{action}', action);
}

export class PowerCommand implements PowerSwitch {
  constructor(
    readonly template: string,
    private readonly runner: CommandRunner,
    private readonly options: { timeoutMs?: number; shell?: string } = {},
  ) {
    if (!template.includes('{action}')) {
      throw new InputError('power-command-without-action', `power.command ${JSON.stringify(template)} has no {action}: on, off and cycle would all run the same command`);
    }
  }

  get description(): string {
    return this.template;
  }

  async switch(action: PowerAction, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const line = powerCommandLine(this.template, action);
    const timeoutMs = Math.min(options.timeoutMs ?? DEFAULT_POWER_TIMEOUT_MS, this.options.timeoutMs ?? DEFAULT_POWER_TIMEOUT_MS);
    const result = await this.runner.run(this.options.shell ?? '/bin/sh', ['-c', line], { timeoutMs, signal: options.signal });
    if (result.code !== 0) {
      const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' | ');
      throw new RigError('infra-error', 'power-command-failed', `power ${action}: \`${line}\` exited with ${result.code ?? result.signal}${said ? `: ${said}` : ''}`, {
        command: line,
        code: result.code,
      });
    }
  }
}
