import type { CommandResult, CommandRunner, RunOptions, StartedCommand } from '../../../../src/device/mt3620/command-runner.js';

/**
 * Records every command line and answers from a script of recorded outputs,
 * matched by the command line's prefix; nothing is ever executed.
 */
export interface ScriptedAnswer {
  /** Matches when the command line (file and args joined by spaces) starts with this. */
  prefix: string;
  result?: Partial<CommandResult>;
  /** Answers in turn for repeated calls; the last one repeats. */
  results?: Array<Partial<CommandResult>>;
}

export class FakeCommandRunner implements CommandRunner {
  readonly log: string[] = [];
  readonly started: Array<{ line: string; stopped: boolean; exit: (result: Partial<CommandResult>) => void }> = [];
  readonly #answers: ScriptedAnswer[];
  readonly #counts = new Map<ScriptedAnswer, number>();

  constructor(answers: ScriptedAnswer[] = []) {
    this.#answers = answers;
  }

  async run(file: string, args: readonly string[], _options: RunOptions): Promise<CommandResult> {
    const line = [file, ...args].join(' ');
    this.log.push(line);
    const answer = this.#answers.find((a) => line.startsWith(a.prefix));
    if (!answer) return { code: 0, signal: null, stdout: '', stderr: '' };
    const n = this.#counts.get(answer) ?? 0;
    this.#counts.set(answer, n + 1);
    const result = answer.results ? answer.results[Math.min(n, answer.results.length - 1)]! : (answer.result ?? {});
    return { code: 0, signal: null, stdout: '', stderr: '', ...result };
  }

  start(file: string, args: readonly string[]): StartedCommand {
    const line = [file, ...args].join(' ');
    this.log.push(`start ${line}`);
    let exit: (result: Partial<CommandResult>) => void = () => undefined;
    const exited = new Promise<CommandResult>((resolve) => (exit = (r) => resolve({ code: 0, signal: null, stdout: '', stderr: '', ...r })));
    const entry = { line, stopped: false, exit };
    this.started.push(entry);
    return {
      pid: 4242 + this.started.length,
      exited,
      stop: () => {
        entry.stopped = true;
        exit({ code: null, signal: 'SIGTERM' });
      },
    };
  }
}
