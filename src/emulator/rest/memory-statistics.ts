import type { EmulatedBoard } from '../emulated-board.js';

/**
 * GET /stats/memory/groups/applications. Emulated apps run no code, so their
 * memory is a model, documented here: each running app's user-mode usage is
 * 32 KiB plus a quarter of its image, rounded up to 4 KiB pages; the group's
 * current usage adds 48 KiB of kernel memory per app; the peak is the highest
 * user-mode total seen since the emulator started. Apps appear in component-ID
 * order with pids from 29 up, as on a freshly booted device.
 */
export interface MemoryStatistics {
  memoryStats: { currentMemoryUsageInBytes: number; userModeMemoryUsageInBytes: number; peakUserModeMemoryUsageInBytes: number };
  apps: Array<{ componentId: string; processes: Array<{ pid: number; heapUsageByCaller: Array<{ name: string; usageInBytes: number }> }> }>;
}

const PAGE = 4096;
const BASE_USER_BYTES = 32 * 1024;
const KERNEL_BYTES_PER_APP = 48 * 1024;
const FIRST_PID = 29;

export class MemoryModel {
  #peak = 0;

  constructor(private readonly board: EmulatedBoard) {}

  statistics(): MemoryStatistics {
    const running = this.board
      .apps()
      .filter((app) => app.state === 'running' || app.state === 'debugging')
      .sort((a, b) => a.componentId.localeCompare(b.componentId));
    const usage = running.map((app) => Math.ceil((BASE_USER_BYTES + app.length / 4) / PAGE) * PAGE);
    const user = usage.reduce((sum, n) => sum + n, 0);
    this.#peak = Math.max(this.#peak, user);
    return {
      memoryStats: {
        currentMemoryUsageInBytes: user + running.length * KERNEL_BYTES_PER_APP,
        userModeMemoryUsageInBytes: user,
        peakUserModeMemoryUsageInBytes: this.#peak,
      },
      apps: running.map((app, index) => ({
        componentId: app.componentId,
        processes: [{ pid: FIRST_PID + index, heapUsageByCaller: [{ name: app.name || 'app', usageInBytes: usage[index]! }] }],
      })),
    };
  }
}
