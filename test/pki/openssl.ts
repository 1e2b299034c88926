import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What openssl said, for tests that check our output with an independent implementation. */
export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function openssl(args: readonly string[]): OpensslResult {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A scratch directory in os.tmpdir() with a helper that writes files into it. */
export class ScratchDir {
  readonly path = mkdtempSync(join(tmpdir(), 'sphere-rig-pki-'));

  write(name: string, content: string | Uint8Array): string {
    const file = join(this.path, name);
    writeFileSync(file, content);
    return file;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/**
 * A raw r || s signature as the DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs)
 * that OpenSSL and Node's default encoding use; written here independently of src/pki.
 */
export function rawSignatureToDer(raw: Uint8Array): Buffer {
  if (raw.length !== 64) throw new Error(`raw signature must be 64 bytes, got ${raw.length}`);
  const integer = (bytes: Uint8Array): Buffer => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    let content = Buffer.from(bytes.subarray(start));
    if (content[0]! & 0x80) content = Buffer.concat([Buffer.from([0]), content]);
    return Buffer.concat([Buffer.from([0x02, content.length]), content]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
