/**
 * Turns the daemon's terse problem strings about a board into a sentence a QA
 * engineer can act on; the raw text stays available as the detail (the page
 * shows it one click away). Pure, so the known cases are unit tested.
 *
 * Where the strings come from (the daemon's board JSON):
 * - `error`: board.info() failed. Emulated boards answer through their control
 *   channel (`<command>: <emulator message>`, `control command 'info' got no
 *   reply within N ms`, `... control channel ... closed`); real boards refuse
 *   while unplugged (`board X (USB serial S) is offline, so info is unavailable: why`).
 * - `offlineReason`: why the rig could not bind the board at start (`USB serial S
 *   is not attached to this host`, `the emulator has no board N`, `real MT3620
 *   boards are not supported by this daemon build`, `no USB bus on this host: ...`,
 *   or a USB/serial error).
 * - attestation `lastError`: the emulated OS's last DAA attempt (`refused:
 *   code, code`, `certificate expired`, `DAA service at URL: no answer within N ms`,
 *   `superseded: ...`, or a connection error).
 */
export type BoardProblemSource = 'error' | 'offline' | 'attestation';

export interface ExplainedProblem {
  /** One sentence, starting with what it means for the board. */
  sentence: string;
  /** The daemon's own words. */
  detail: string;
}

export function explainBoardProblem(source: BoardProblemSource, raw: string): ExplainedProblem {
  const detail = raw.trim();
  switch (source) {
    case 'error':
      return { sentence: explainInfoError(detail), detail };
    case 'offline':
      return { sentence: `The board is offline: ${explainOfflineReason(detail)}`, detail };
    case 'attestation':
      return { sentence: explainAttestationError(detail), detail };
  }
}

function explainInfoError(raw: string): string {
  const offline = /is offline, so \S+ is unavailable: (.+)$/s.exec(raw);
  if (offline) return `The board is offline: ${explainOfflineReason(offline[1]!)}`;
  const noReply = /got no reply within (\d+) ms/.exec(raw);
  if (noReply) return `The board did not answer its device API within ${seconds(noReply[1]!)}: it may be hung, rebooting or very busy.`;
  if (/control channel.*(closed|is closed)|cannot reach the control channel/.test(raw)) {
    return 'The rig lost its connection to this emulated board: the emulator may have stopped or restarted.';
  }
  if (/^board \S+ is closed$/.test(raw)) return 'The daemon has let go of this board (it is shutting down).';
  const refused = /^[\w-]+: (.+)$/s.exec(raw);
  if (refused) return `The board did not answer its device API: ${explainDeviceRefusal(refused[1]!)}`;
  return 'The rig could not read the board’s state (see the detail).';
}

/** What the emulated board said when it refused a command. */
function explainDeviceRefusal(message: string): string {
  if (/the flash has no power/.test(message)) return 'it has no power (switched off, or its power was cut) — power it on.';
  if (/the board is off/.test(message)) return 'it is switched off — power it on.';
  return `${asClause(message)}.`;
}

function explainOfflineReason(raw: string): string {
  const unplugged = /USB serial (\S+) is not attached to this host/.exec(raw);
  if (unplugged) return `its USB cable (serial ${unplugged[1]}) is not connected to this host — plug it in.`;
  const noEmulated = /the emulator has no board (\S+)/.exec(raw);
  if (noEmulated) return `the rig file names emulator board ${noEmulated[1]}, which the emulator does not have (see emulator.boards).`;
  if (/real MT3620 boards are not supported/.test(raw)) return 'this daemon cannot drive real MT3620 boards.';
  if (/no USB bus on this host/.test(raw)) return 'this host has no USB bus to find it on (a container or VM without the USB devices passed through).';
  if (/permission|EACCES|LIBUSB_ERROR_ACCESS/i.test(raw)) return 'the host does not let the rig open its USB device (permissions; see the udev rules).';
  if (/detached|disconnected|unplugged/i.test(raw)) return 'it was unplugged or lost its USB connection.';
  return 'the rig cannot reach it (see the detail).';
}

/** The DAA refusal codes a QA engineer is likely to meet, in their words. */
const REFUSALS: Record<string, string> = {
  'device-unclaimed': 'the device is not claimed to any tenant',
  'tenant-mismatch': 'the device is claimed to another tenant',
  'device-revoked': 'the device is revoked',
  'tenant-ca-revoked': 'the tenant’s CA is revoked',
  'tenant-ca-inactive': 'the tenant has no active CA',
  'bootcount-regressed': 'its boot counter went backwards',
  'reference-values-missing': 'the tenant has no reference values',
  'secure-boot-failed': 'secure boot did not pass',
  'component-unknown': 'it runs a component the tenant does not list',
  'image-untrusted': 'it runs an image marked untrusted',
  'image-unknown': 'it runs an image that is not trusted',
  'component-missing': 'a required component is not installed',
  'security-version-below-floor': 'an image is older than the tenant’s security floor',
  'development-mode-forbidden': 'it is in development mode, which the tenant forbids',
};

function explainAttestationError(raw: string): string {
  const refused = /^refused: (.+)$/.exec(raw);
  if (refused) {
    const codes = refused[1]!.split(',').map((c) => c.trim()).filter(Boolean);
    return `The security service refused the board’s attestation: ${codes.map((c) => REFUSALS[c] ?? c).join('; ')}.`;
  }
  if (raw === 'certificate expired') return 'The board’s device certificate expired and it has not got a new one yet.';
  const noAnswer = /DAA service at \S+: no answer within (\d+) ms/.exec(raw);
  if (noAnswer) return `The board could not reach the security (DAA) service: no answer within ${seconds(noAnswer[1]!)}.`;
  if (/^superseded/.test(raw)) return 'The board restarted during its attestation; it tries again by itself.';
  if (/ECONNREFUSED|fetch failed|cannot reach|unreachable/i.test(raw)) return 'The board could not reach the security (DAA) service: is it running?';
  return 'The board’s last attestation failed (see the detail).';
}

function seconds(ms: string): string {
  const n = Number(ms) / 1000;
  return `${Number.isInteger(n) ? n : n.toFixed(1)} s`;
}

/** A message as the end of a sentence: lower-case start, no full stop of its own. */
function asClause(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1).replace(/\.$/, '');
}
