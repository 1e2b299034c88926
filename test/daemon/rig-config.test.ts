import { expect } from 'chai';
import { parseRigConfig } from '../../src/daemon/rig-config.js';

describe('rig file', () => {
  it('runs the emulator fast when the rig does not say, and keeps a speed it does say', () => {
    const rig = (speed: string) => `name: r\nemulator:\n  boards: 1\n${speed}boards:\n  - { id: emu-1, driver: emulated, emulatorBoard: 0 }\n`;
    expect(parseRigConfig(rig(''), 'r.yaml').emulator).to.deep.equal({ boards: 1, speed: 'fast' });
    expect(parseRigConfig(rig('  speed: real\n'), 'r.yaml').emulator).to.deep.equal({ boards: 1, speed: 'real' });
    expect(() => parseRigConfig(rig('  speed: warp\n'), 'r.yaml')).to.throw(/r\.yaml.*speed/);
  });
});
