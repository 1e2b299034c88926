import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a rig inventory of `count` emulated boards (emu-01, emu-02, ...) into `dir`; returns its path. */
export function writeEmulatedRig(dir: string, count: number): string {
  const width = String(count).length;
  const boards = Array.from({ length: count }, (_, i) => `  - { id: emu-${String(i + 1).padStart(width, '0')}, driver: emulated, emulatorBoard: ${i}, tags: [emulated, all], tenant: lab }`);
  const path = join(dir, `rig-${count}.yaml`);
  writeFileSync(
    path,
    [
      `name: load-${count}`,
      `description: ${count} emulated boards for the dashboard load test`,
      'daemon:',
      '  listen: 127.0.0.1:0',
      'emulator:',
      `  boards: ${count}`,
      '  speed: fast',
      'daa:',
      '  tenants:',
      '    - name: lab',
      '      developmentMode: allowed',
      'boards:',
      ...boards,
      '',
    ].join('\n'),
  );
  return path;
}
