import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RECOVERY_1BL_FILE, RECOVERY_MANIFEST_FILE, RECOVERY_RUNTIME_FILE } from '../image/recovery-set-layout.js';
import { InputError } from '../util/failure.js';

/**
 * Where the recovery client finds the files the device asks for by name. The
 * device checks every file itself; the host only serves bytes, so a folder is
 * enough. Tests may serve files from memory.
 */
export interface RecoveryImageSource {
  /** For messages: the folder, or what the files are. */
  readonly description: string;
  /** The file of that name, or undefined when the set has none. */
  file(name: string): Buffer | undefined;
}

/** Files every recovery needs, checked before a board is touched. */
export const REQUIRED_RECOVERY_FILES = [RECOVERY_1BL_FILE, RECOVERY_RUNTIME_FILE, RECOVERY_MANIFEST_FILE] as const;

/**
 * A recovery image set folder. Only files listed in the folder are served, by
 * their plain name (matched case-insensitively, as a Windows-made set may differ
 * in case), so a device cannot ask for anything outside it. The last file read
 * is kept: the device asks for a large image in 20 KiB chunks.
 */
export class RecoveryImageFolder implements RecoveryImageSource {
  readonly #names: Map<string, string>;
  #cached: { name: string; bytes: Buffer } | undefined;

  private constructor(
    readonly dir: string,
    names: Map<string, string>,
  ) {
    this.#names = names;
  }

  static open(dir: string): RecoveryImageFolder {
    let entries: string[];
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      entries = readdirSync(dir);
    } catch (error) {
      throw new InputError('recovery-images-unreadable', `${dir}: not a readable recovery image folder (${(error as Error).message})`, { dir });
    }
    const names = new Map<string, string>();
    for (const name of entries) {
      try {
        if (statSync(join(dir, name)).isFile()) names.set(name.toLowerCase(), name);
      } catch {
        // A file that vanished while listing is simply not offered.
      }
    }
    const missing = REQUIRED_RECOVERY_FILES.filter((name) => !names.has(name));
    if (missing.length) {
      throw new InputError('recovery-images-incomplete', `${dir}: not a recovery image set: ${missing.join(', ')} missing`, { dir, missing });
    }
    return new RecoveryImageFolder(dir, names);
  }

  get description(): string {
    return this.dir;
  }

  /** Every file name in the folder. */
  get names(): string[] {
    return [...this.#names.values()].sort();
  }

  file(name: string): Buffer | undefined {
    const actual = this.#names.get(name.toLowerCase());
    if (!actual) return undefined;
    if (this.#cached?.name === actual) return this.#cached.bytes;
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.dir, actual));
    } catch (error) {
      throw new InputError('recovery-image-unreadable', `${join(this.dir, actual)}: cannot read (${(error as Error).message})`, { file: actual });
    }
    this.#cached = { name: actual, bytes };
    return bytes;
  }
}
