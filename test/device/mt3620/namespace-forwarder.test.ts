import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLoopbackBridge } from '../../../src/device/mt3620/loopback-bridge.js';

/**
 * The two ends that carry REST traffic into a board's link namespace, run
 * here without any namespace and on loopback only: the forwarder program
 * (Unix socket -> TCP) and the rig's loopback bridge (127.0.0.1 -> Unix
 * socket). An echo server on 127.0.0.1 stands in for the board.
 */
const FORWARDER = fileURLToPath(new URL('../../../src/device/mt3620/namespace-forwarder-main.ts', import.meta.url));

function startForwarder(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', FORWARDER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function firstLine(child: ChildProcess): Promise<string> {
  let text = '';
  for await (const chunk of child.stdout!) {
    text += String(chunk);
    if (text.includes('\n')) return text.split('\n')[0]!;
  }
  return text;
}

describe('link namespace forwarder and loopback bridge (loopback only, no namespace)', function () {
  this.timeout(30_000);
  let dir: string;
  let echo: Server;
  let forwarder: ChildProcess | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-fwd-'));
    echo = createServer((socket) => socket.pipe(socket));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
  });

  afterEach(async () => {
    if (forwarder && forwarder.exitCode === null) {
      forwarder.kill('SIGTERM');
      await once(forwarder, 'exit');
    }
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries bytes both ways: client -> 127.0.0.1 bridge -> Unix socket -> forwarder -> board', async () => {
    const socketPath = join(dir, 'board.sock');
    forwarder = startForwarder(['--listen', socketPath, '--connect', `127.0.0.1:${(echo.address() as AddressInfo).port}`]);
    expect(await firstLine(forwarder)).to.equal(`listening ${socketPath}`);
    const bridge = await openLoopbackBridge(socketPath);
    try {
      const client = connect({ host: '127.0.0.1', port: bridge.port });
      await once(client, 'connect');
      const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      client.write(payload);
      let received = Buffer.alloc(0);
      for await (const chunk of client) {
        received = Buffer.concat([received, chunk as Buffer]);
        if (received.length >= payload.length) break;
      }
      expect(received.equals(payload)).to.equal(true);
      client.destroy();
    } finally {
      await bridge.close();
    }
    forwarder.kill('SIGTERM');
    const [code] = (await once(forwarder, 'exit')) as [number | null];
    expect(code).to.equal(0);
  });

  it('refuses to connect anywhere but a service-link or loopback address', async () => {
    forwarder = startForwarder(['--listen', join(dir, 'x.sock'), '--connect', '10.20.0.14:443']);
    let stderr = '';
    forwarder.stderr!.on('data', (d) => (stderr += String(d)));
    const [code] = (await once(forwarder, 'exit')) as [number | null];
    expect(code).to.equal(2);
    expect(stderr).to.contain('only a service-link (192.168.35.x) or loopback');
  });
});
