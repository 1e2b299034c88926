/**
 * Batches DOM work into one pass per animation frame. Jobs are keyed, so a
 * thing that changes a hundred times between frames is drawn once; a hidden
 * tab draws nothing until it is shown again, and its backlog stays one job per key.
 */
export class FrameScheduler {
  private readonly jobs = new Map<string, () => void>();
  private requested = false;

  schedule(key: string, job: () => void): void {
    this.jobs.set(key, job);
    if (this.requested) return;
    this.requested = true;
    requestAnimationFrame(() => this.flush());
  }

  cancel(key: string): void {
    this.jobs.delete(key);
  }

  private flush(): void {
    this.requested = false;
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) {
      try {
        job();
      } catch (error) {
        console.error('render failed', error);
      }
    }
  }
}
