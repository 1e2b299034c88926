import type { EmulatedBoard, InstallResult } from '../emulated-board.js';
import { DeviceErrorCode } from '../../util/device-error-codes.js';
import { DeviceRefusal } from '../device-error.js';
import { checkStagedImage, type StagedImage } from './staged-image-check.js';

/**
 * Images staged by PUT /update/stage, waiting for POST /update/install. Kept
 * in RAM as a device keeps them until it restarts: any reset or power loss
 * empties the area. A second image of the same component replaces the first.
 */
export interface InstallOutcome {
  restartingSystem: boolean;
  results: InstallResult[];
}

/** Capability images first (they may enable what follows), then apps, then the OS set (it restarts). */
const INSTALL_ORDER = { capability: 0, app: 1, os: 2 } as const;

export class StagingArea {
  #images: StagedImage[] = [];

  get images(): readonly StagedImage[] {
    return this.#images;
  }

  isStaged(componentId: string): boolean {
    return this.#images.some((image) => image.componentId === componentId);
  }

  /** Checks the image as the device would; a refusal leaves the area as it was. */
  stage(board: EmulatedBoard, bytes: Buffer, capabilities: readonly number[]): StagedImage {
    const image = checkStagedImage(board, bytes, { capabilities, staged: this.#images });
    this.#images = [...this.#images.filter((s) => s.componentId !== image.componentId), image];
    return image;
  }

  clear(): void {
    this.#images = [];
  }

  /**
   * Installs everything staged and empties the area, whatever happens: a
   * refused install is not retried from the same staging.
   */
  async install(board: EmulatedBoard, options: { extraCapabilities: number[]; manualStart: boolean }): Promise<InstallOutcome> {
    const images = [...this.#images].sort((a, b) => INSTALL_ORDER[a.kind] - INSTALL_ORDER[b.kind]);
    this.#images = [];
    if (images.length === 0) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, 'nothing is staged');
    const results: InstallResult[] = [];
    for (const image of images.filter((i) => i.kind !== 'os')) {
      const result = await board.install([image.bytes], { extraCapabilities: options.extraCapabilities });
      results.push(result);
      if (result.kind !== 'app') continue;
      // An app trusted only thanks to the request's capability session was loaded with it by install().
      if (options.manualStart && board.appState(image.componentId) === 'running') board.stopApp(image.componentId);
    }
    const osImages = images.filter((i) => i.kind === 'os');
    if (osImages.length) results.push(await board.install(osImages.map((i) => i.bytes)));
    return { restartingSystem: results.some((r) => r.restartingSystem), results };
  }
}
