import { expect } from 'chai';
import { explainBoardProblem } from '../../src/dashboard/board-problem-text.js';

/** The strings are the daemon's own (see the comments in src/dashboard/board-problem-text.ts for where each comes from). */
describe('dashboard: board problems as sentences', () => {
  it('says an emulated board that refused its info call did not answer its device API, and why', () => {
    expect(explainBoardProblem('error', 'info: read refused: the flash has no power')).to.deep.equal({
      sentence: 'The board did not answer its device API: it has no power (switched off, or its power was cut) — power it on.',
      detail: 'info: read refused: the flash has no power',
    });
    expect(explainBoardProblem('error', 'info: something new went wrong.').sentence).to.equal('The board did not answer its device API: something new went wrong.');
    expect(explainBoardProblem('error', "control command 'info' got no reply within 3000 ms").sentence).to.equal(
      'The board did not answer its device API within 3 s: it may be hung, rebooting or very busy.',
    );
    expect(explainBoardProblem('error', "board emu-2: the emulator's control channel is closed").sentence).to.match(/^The rig lost its connection to this emulated board/);
    expect(explainBoardProblem('error', 'control channel at 127.0.0.1:4100 closed').sentence).to.match(/^The rig lost its connection to this emulated board/);
  });

  it('says a board is offline and what to do, for unplugged and unbindable boards', () => {
    const unplugged = 'board bench-1 (USB serial AS0000000001) is offline, so info is unavailable: USB serial AS0000000001 is not attached to this host';
    expect(explainBoardProblem('error', unplugged).sentence).to.equal('The board is offline: its USB cable (serial AS0000000001) is not connected to this host — plug it in.');
    expect(explainBoardProblem('offline', 'USB serial AS0000000001 is not attached to this host').sentence).to.equal(
      'The board is offline: its USB cable (serial AS0000000001) is not connected to this host — plug it in.',
    );
    expect(explainBoardProblem('offline', 'the emulator has no board 7').sentence).to.equal(
      'The board is offline: the rig file names emulator board 7, which the emulator does not have (see emulator.boards).',
    );
    expect(explainBoardProblem('offline', 'no USB bus on this host: /dev/bus/usb does not exist (in a container, pass the bus with --device /dev/bus/usb)').sentence).to.equal(
      'The board is offline: this host has no USB bus to find it on (a container or VM without the USB devices passed through).',
    );
    expect(explainBoardProblem('offline', 'real MT3620 boards are not supported by this daemon build').sentence).to.equal('The board is offline: this daemon cannot drive real MT3620 boards.');
  });

  it('explains attestation failures: refusal codes in words, expiry, an unreachable DAA service', () => {
    expect(explainBoardProblem('attestation', 'refused: development-mode-forbidden, image-unknown').sentence).to.equal(
      'The security service refused the board’s attestation: it is in development mode, which the tenant forbids; it runs an image that is not trusted.',
    );
    expect(explainBoardProblem('attestation', 'refused: some-new-code').sentence).to.equal('The security service refused the board’s attestation: some-new-code.');
    expect(explainBoardProblem('attestation', 'certificate expired').sentence).to.equal('The board’s device certificate expired and it has not got a new one yet.');
    expect(explainBoardProblem('attestation', 'DAA service at http://127.0.0.1:4000/daa: no answer within 10000 ms').sentence).to.equal(
      'The board could not reach the security (DAA) service: no answer within 10 s.',
    );
  });

  it('falls back to a plain sentence, keeping the raw text as the detail', () => {
    expect(explainBoardProblem('error', '???')).to.deep.equal({ sentence: 'The rig could not read the board’s state (see the detail).', detail: '???' });
    expect(explainBoardProblem('offline', 'LIBUSB_ERROR_IO')).to.deep.equal({ sentence: 'The board is offline: the rig cannot reach it (see the detail).', detail: 'LIBUSB_ERROR_IO' });
    expect(explainBoardProblem('attestation', 'boom')).to.deep.equal({ sentence: 'The board’s last attestation failed (see the detail).', detail: 'boom' });
  });
});
