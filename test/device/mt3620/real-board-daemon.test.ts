import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindRealBoard } from '../../../src/device/mt3620/real-board-binding.js';
import { UsbAccessError } from '../../../src/link/usb-access-error.js';
import { DaemonProcess } from '../../helpers/daemon-process.js';
import { fixtureFile } from './helpers/recordings.js';

/**
 * A rig naming a real board on a host without USB (this one): the daemon lists
 * the board offline with a reason an operator can act on, every action on it
 * fails as an infrastructure error carrying that reason, and the emulated
 * board beside it serves on.
 */
const NO_USB_BUS = 'no USB bus on this host: /dev/bus/usb does not exist';

interface ApiBoard {
  id: string;
  driver: string;
  state: string;
  usbSerial: string | null;
}

describe('a rig with a real board on a host without USB', function () {
  this.timeout(180_000);
  let stateDir: string;
  let daemon: DaemonProcess;

  before(async function () {
    if (existsSync('/dev/bus/usb')) this.skip();
    stateDir = mkdtempSync(join(tmpdir(), 'sphere-rig-real-daemon-'));
    daemon = await DaemonProcess.start({ rig: fixtureFile('rig-real-and-emulated.yaml'), stateDir });
  });

  after(async () => {
    await daemon?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('binding the real board directly fails with the no-USB error (what the registry turns into an offline board)', async () => {
    const error = await bindRealBoard({ id: 'bench-1', tags: [], usbSerial: 'AS0T5R9KQ2' }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(UsbAccessError);
    expect((error as UsbAccessError).problem).to.equal('no-usb-bus');
  });

  it('lists the real board offline and the emulated board ready, and logs why', async () => {
    const { status, body } = await daemon.request<ApiBoard[]>('GET', '/api/v1/boards');
    expect(status).to.equal(200);
    expect(body.find((b) => b.id === 'bench-1')).to.deep.include({ driver: 'mt3620', state: 'offline', usbSerial: 'AS0T5R9KQ2' });
    expect(body.find((b) => b.id === 'emu-1')).to.deep.include({ driver: 'emulated', state: 'ready' });
    const logged = daemon.stderr.find((line) => line.includes('board offline') && line.includes('bench-1'));
    expect(logged, daemon.stderr.join('\n')).to.contain(NO_USB_BUS);
  });

  it('an action on the real board is a conflict carrying the reason (not a daemon fault)', async () => {
    const { status, body } = await daemon.request<{ error: { code: string; message: string; failureClass: string } }>('POST', '/api/v1/boards/bench-1/actions', { action: 'reset' });
    expect(status).to.equal(409);
    expect(body.error).to.deep.include({ code: 'board-offline' });
    expect(body.error.message).to.equal(
      `board bench-1 is offline: ${NO_USB_BUS} (in a container, pass the bus with --device /dev/bus/usb; in a VM, attach the USB controller); real MT3620 boards cannot be found or reset`,
    );
  });

  it('the real board is bad (offline) with that reason and refuses scenarios, while the emulated board takes actions', async () => {
    const { body: boards } = await daemon.request<Array<{ id: string; health: { status: string; reason: string } }>>('GET', '/api/v1/boards');
    const bench = boards.find((b) => b.id === 'bench-1')!;
    expect(bench.health.status).to.equal('bad');
    expect(bench.health.reason).to.contain(NO_USB_BUS);
    const submitted = await daemon.request<{ error: { code: string; message: string } }>('POST', '/api/v1/runs', { scenario: 'boot-smoke', boardId: 'bench-1' });
    expect(submitted.status).to.equal(409);
    expect(submitted.body.error.code).to.equal('board-unavailable');
    expect(submitted.body.error.message).to.contain('board bench-1 is bad (offline: ').and.contain(NO_USB_BUS);

    // The emulated board is health-checked at start; an action waits for the check to let go of it.
    const check = await daemon.request<{ runId: string }>('POST', '/api/v1/boards/emu-1/health-check');
    expect((await daemon.waitForRun(check.body.runId)).verdict).to.equal('passed');
    const reset = await daemon.request<{ ok: boolean; state: string }>('POST', '/api/v1/boards/emu-1/actions', { action: 'reset' });
    expect(reset.status, JSON.stringify(reset.body)).to.equal(200);
    expect(reset.body.ok).to.equal(true);
  });
});
