import * as fs from 'node:fs';
import { InputError } from '../../util/failure.js';
import type { FlashBacking } from './flash-backing.js';

/**
 * Flash kept in a file, every byte stored inverted (byte ^ 0xFF): a fresh sparse
 * file reads as zeros, which is erased flash, so a new 16 MiB board costs no disk
 * blocks and no memory. Only the bytes asked for are ever read, by position.
 */
export class FileBacking implements FlashBacking {
  private fd: number | undefined;
  private readonly zeros: Buffer;

  private constructor(
    fd: number,
    private readonly path: string,
    chunkSize: number,
  ) {
    this.fd = fd;
    this.zeros = Buffer.alloc(chunkSize);
  }

  /** Opens the file, creating it sparse (all erased) when missing or empty. */
  static open(path: string, size: number, chunkSize: number): FileBacking {
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (error) {
      throw new InputError('flash-file-unavailable', `cannot open flash file ${path}: ${(error as Error).message}`, { path }, { cause: error });
    }
    try {
      const existing = fs.fstatSync(fd).size;
      if (existing === 0) fs.ftruncateSync(fd, size);
      else if (existing !== size) {
        throw new InputError('flash-geometry-mismatch', `flash file ${path} holds ${existing} bytes, the geometry says ${size}`, {
          path,
          fileSize: existing,
          size,
        });
      }
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    return new FileBacking(fd, path, chunkSize);
  }

  read(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const got = fs.readSync(this.openFd(), out, done, length - done, offset + done);
      if (got === 0) break;
      done += got;
    }
    out.fill(0, done); // past the end of the file (never, at the right size) reads erased
    invertInPlace(out);
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    const inverted = Buffer.from(data); // a copy: the caller's buffer stays as it was
    invertInPlace(inverted);
    this.writeRaw(offset, inverted);
  }

  erase(offset: number, length: number): void {
    for (let done = 0; done < length; done += this.zeros.length) {
      this.writeRaw(offset + done, this.zeros.subarray(0, Math.min(this.zeros.length, length - done)));
    }
  }

  flush(): void {
    fs.fsyncSync(this.openFd());
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }

  private writeRaw(offset: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.openFd(), bytes, done, bytes.length - done, offset + done);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new InputError('flash-file-closed', `flash file ${this.path} is closed`, { path: this.path });
    return this.fd;
  }
}

/** XOR 0xFF over a buffer, a word at a time where the buffer is word-aligned. */
function invertInPlace(bytes: Buffer): void {
  const start = Math.min(bytes.length, (4 - (bytes.byteOffset % 4)) % 4);
  const words = Math.floor((bytes.length - start) / 4);
  for (let i = 0; i < start; i++) bytes[i] = bytes[i]! ^ 0xff;
  const view = new Uint32Array(bytes.buffer, bytes.byteOffset + start, words);
  for (let i = 0; i < words; i++) view[i] = ~view[i]!;
  for (let i = start + words * 4; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0xff;
}
