import { SerialPort } from 'serialport';

/** The host's side of a line in tests: a real `serialport` on the pty, as the rig opens /dev/ttyUSBn. */
export async function openHostPort(path: string, options: { baudRate?: number; rtscts?: boolean } = {}): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: options.baudRate ?? 115200, rtscts: options.rtscts ?? false, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  return port;
}

export async function closeHostPort(port: SerialPort): Promise<void> {
  if (!port.isOpen) return;
  await new Promise<void>((resolve, reject) => port.close((error) => (error ? reject(error) : resolve())));
}

export async function setHostBaudRate(port: SerialPort, baudRate: number): Promise<void> {
  await new Promise<void>((resolve, reject) => port.update({ baudRate }, (error) => (error ? reject(error) : resolve())));
}

export async function hostWrite(port: SerialPort, data: Buffer | string): Promise<void> {
  await new Promise<void>((resolve, reject) => port.write(data, (error) => (error ? reject(error) : resolve())));
  await new Promise<void>((resolve, reject) => port.drain((error) => (error ? reject(error) : resolve())));
}

/** Resolves with exactly `count` bytes from a source of 'data' events, failing after `timeoutMs`. */
export function collectBytes(
  source: { on(event: 'data', listener: (chunk: Buffer) => void): unknown; off(event: 'data', listener: (chunk: Buffer) => void): unknown },
  count: number,
  timeoutMs = 5000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= count) {
        finish();
        resolve(Buffer.concat(chunks));
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`received ${received} of ${count} bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      source.off('data', onData);
    };
    source.on('data', onData);
  });
}

/** Resolves with everything received once what has arrived so far satisfies `done`. */
export function collectUntil(
  source: { on(event: 'data', listener: (chunk: Buffer) => void): unknown; off(event: 'data', listener: (chunk: Buffer) => void): unknown },
  done: (received: Buffer) => boolean,
  timeoutMs = 5000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (done(received)) {
        finish();
        resolve(received);
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`condition not met within ${timeoutMs} ms after ${received.length} bytes`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      source.off('data', onData);
    };
    source.on('data', onData);
  });
}

export function allByteValues(repeat = 1): Buffer {
  const one = Buffer.alloc(256);
  for (let i = 0; i < 256; i += 1) one[i] = i;
  return Buffer.concat(Array.from({ length: repeat }, () => one));
}
