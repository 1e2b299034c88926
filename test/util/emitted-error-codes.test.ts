import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RestErrorCode } from '../../src/emulator/rest/rest-error-codes.js';
import { RecoveryErrorCode } from '../../src/link/recovery-error-codes.js';
import { describeDeviceError, isCatalogCode } from '../../src/util/device-error-catalog.js';
import { DeviceErrorCode } from '../../src/util/device-error-codes.js';

/**
 * Every device error code the project emits is one of Microsoft's catalog
 * (fixtures/azure-sphere-os-24.06): what the emulator's REST API answers
 * ({"error": code}), what the recovery agent sends in RecoveryError, what
 * image checks attach to their refusals. Checked two ways: the named tables at
 * run time, and a scan of the source for numeric codes written anywhere else.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where codes are emitted: the device side (emulator), the checks it shares with the rig (image), the code tables. */
const SCANNED = ['src/emulator', 'src/image', 'src/util/device-error-codes.ts', 'src/link/recovery-error-codes.ts'];

/** Numbers in those files that are not device error codes, or not emitted, each with its reason. */
const EXCEPTIONS: Record<string, { numbers: number[]; reason: string }> = {
  'src/emulator/surfaces/pty-termios.ts': { numbers: [1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000], reason: 'baud rates of the termios table' },
  'src/link/recovery-error-codes.ts': {
    numbers: [62914561, 62914562, 62914563, 62914564, 62914565, 62914566],
    reason: 'codes of pre-catalog emulators, which the host still names; nothing sends them',
  },
};

function sourceFiles(path: string): string[] {
  const full = join(ROOT, path);
  if (statSync(full).isFile()) return [path];
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const child = join(path, entry.name);
    if (entry.isDirectory()) return sourceFiles(child);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('-data.ts') ? [child] : [];
  });
}

/** The code without comments and string literals, where numbers are text, not codes. */
function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|[^:])\/\/.*$/gm, '$1')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

interface Use {
  file: string;
  code: number;
}

/** Numbers that can only be codes: 7 to 9 digits, or any literal passed as a refusal's code or a deviceErrorCode. */
function codesIn(file: string): Use[] {
  const text = codeOnly(readFileSync(join(ROOT, file), 'utf8'));
  const uses: Use[] = [];
  for (const m of text.matchAll(/(?<![\w.])(\d{7,9})(?![\w.])/g)) uses.push({ file, code: Number(m[1]) });
  for (const m of text.matchAll(/new (?:DeviceRefusal|RecoveryRefusal)\(\s*(\d+)/g)) uses.push({ file, code: Number(m[1]) });
  for (const m of text.matchAll(/deviceErrorCode:\s*(\d+)/g)) uses.push({ file, code: Number(m[1]) });
  return uses;
}

describe('every device error code the project emits is in the catalog', () => {
  it('the named tables: DeviceErrorCode, RestErrorCode, RecoveryErrorCode (all of category 39)', () => {
    const tables = { DeviceErrorCode, RestErrorCode, RecoveryErrorCode } as Record<string, Record<string, number>>;
    const outside = Object.entries(tables).flatMap(([table, codes]) =>
      Object.entries(codes)
        .filter(([, code]) => !isCatalogCode(code))
        .map(([name, code]) => `${table}.${name} = ${code}`),
    );
    expect(outside).to.deep.equal([]);
    for (const code of Object.values(RecoveryErrorCode)) expect(describeDeviceError(code).categoryName).to.equal('RecoveryError');
  });

  it('every numeric code written in the emulator, the image checks and the code tables', () => {
    const files = SCANNED.flatMap(sourceFiles);
    expect(files.length).to.be.greaterThan(50);
    const uses = files.flatMap(codesIn);
    // The scan finds what it should: codes of REST routes, refusals and manifest checks.
    expect(uses.map((u) => u.code)).to.include.members([7340047, 14680076, 38797314, 2097153]);
    const outside = uses
      .filter(({ file, code }) => !EXCEPTIONS[relative('.', file)]?.numbers.includes(code))
      .filter(({ code }) => !isCatalogCode(code))
      .map(({ file, code }) => `${file}: ${code} (${describeDeviceError(code).name})`);
    expect(outside).to.deep.equal([]);
  });

  it('each documented exception is still there (otherwise drop it)', () => {
    for (const [file, { numbers }] of Object.entries(EXCEPTIONS)) {
      const found = codesIn(file).map((u) => u.code);
      expect(found, file).to.include.members(numbers);
    }
  });
});
