import { setTimeout as delay } from 'node:timers/promises';

/**
 * Asks a board the same question until the answer is the one wanted or the time
 * is up, and gives the last answer. A real board announces nothing when an app
 * restarts or an update commits: its REST API is asked again, as a person at
 * the bench would. `withinMs` 0 asks once.
 */
const POLL_MS = 200;

export async function pollUntil<T>(
  ask: () => Promise<T>,
  done: (answer: T) => boolean,
  options: { withinMs: number; signal: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + options.withinMs;
  for (;;) {
    const answer = await ask();
    if (done(answer) || Date.now() + POLL_MS > deadline) return answer;
    await delay(POLL_MS, undefined, { signal: options.signal });
  }
}
