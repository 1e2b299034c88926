import type { ApiClient } from './api-client.js';
import type { FrameScheduler } from './frame-scheduler.js';
import type { RigModel } from './rig-model.js';
import type { RigSync } from './rig-sync.js';

/** What every view gets: the model to read and watch, the API to act, the frame scheduler to draw. */
export interface ViewContext {
  model: RigModel;
  sync: RigSync;
  api: ApiClient;
  frames: FrameScheduler;
  toast: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** A mounted piece of the page; `destroy` drops its listeners and timers. */
export interface View {
  readonly element: HTMLElement;
  destroy(): void;
}

let nextViewId = 1;

/** A key unique to one view instance, for frame jobs. */
export function viewKey(kind: string): string {
  return `${kind}#${nextViewId++}`;
}
