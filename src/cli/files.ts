import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { InputError } from '../util/failure.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** File access for commands, with errors that name the file. The layers below work on Buffers. */
export function readInputFile(path: string, what = 'file'): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new InputError('file-unreadable', `${path}: cannot read ${what}: ${why}`, { file: path });
  }
}

/** Writes whole or not at all, so an interrupted command never leaves half an image. */
export function writeOutputFile(path: string, data: Buffer | string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, data, mode);
}

/** Every regular file below `root`, with POSIX relative paths and permission bits. */
export function readTree(root: string): Array<{ path: string; data: Buffer; mode: number }> {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new InputError('not-a-directory', `${root}: not a directory`, { file: root });
  const out: Array<{ path: string; data: Buffer; mode: number }> = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const stat = lstatSync(full);
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile()) out.push({ path: relative(root, full).split(sep).join('/'), data: readFileSync(full), mode: stat.mode & 0o777 });
      else throw new InputError('unsupported-file', `${full}: only regular files and directories can be packed`, { file: full });
    }
  };
  walk(root);
  return out;
}

export function writeTree(root: string, files: Array<{ path: string; data: Buffer; mode?: number }>): void {
  for (const file of files) {
    const target = join(root, ...file.path.split('/'));
    if (!target.startsWith(root)) throw new InputError('path-escape', `${file.path}: refuses to write outside ${root}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.data, { mode: file.mode ?? 0o644 });
  }
}
