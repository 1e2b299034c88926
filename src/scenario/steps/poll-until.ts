import { setTimeout as delay } from 'node:timers/promises';
import { RigError } from '../../util/failure.js';

/**
 * Asks a board the same question until the answer is the one wanted or the time
 * is up, and gives the last answer. A real board announces nothing when an app
 * restarts or an update commits: its REST API is asked again, as a person at
 * the bench would. `withinMs` 0 asks once. While there is time left, a device
 * that cannot be reached (it is restarting: an install, a rollback) is asked
 * again; past the deadline its error stands.
 */
const POLL_MS = 200;

export async function pollUntil<T>(
  ask: () => Promise<T>,
  done: (answer: T) => boolean,
  options: { withinMs: number; signal: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + options.withinMs;
  for (;;) {
    let answer: T;
    try {
      answer = await ask();
    } catch (error) {
      if (!(error instanceof RigError && error.failureClass === 'infra-error' && error.code === 'device-unreachable') || Date.now() + POLL_MS > deadline) throw error;
      await delay(POLL_MS, undefined, { signal: options.signal });
      continue;
    }
    if (done(answer) || Date.now() + POLL_MS > deadline) return answer;
    await delay(POLL_MS, undefined, { signal: options.signal });
  }
}
