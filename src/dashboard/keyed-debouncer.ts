/**
 * Runs an async job per key at most once per `delayMs`, never two at a time for
 * the same key: a burst of events about one board becomes one fetch, and one
 * more after it if something changed while it ran.
 */
export class KeyedDebouncer {
  private readonly timers = new Map<string, number>();
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();

  constructor(private readonly delayMs: number) {}

  request(key: string, job: () => Promise<void>, delayMs = this.delayMs): void {
    if (this.running.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.timers.has(key)) return;
    this.timers.set(
      key,
      window.setTimeout(() => {
        this.timers.delete(key);
        this.running.add(key);
        job()
          .catch((error: unknown) => console.warn(`refresh ${key} failed`, error))
          .finally(() => {
            this.running.delete(key);
            if (this.again.delete(key)) this.request(key, job);
          });
      }, delayMs),
    );
  }

  /**
   * Drops every job still waiting and any second run asked for; a job already
   * running finishes. For a view going away, whose jobs would fetch for nobody.
   */
  cancel(): void {
    for (const timer of this.timers.values()) window.clearTimeout(timer);
    this.timers.clear();
    this.again.clear();
  }
}
