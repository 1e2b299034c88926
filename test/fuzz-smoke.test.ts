import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countWarnings, type WarningCounter } from '../bench/fuzz/quiet-warnings.js';
import { Counters, runTarget, Slot, type Finding } from '../bench/fuzz/runner.js';
import { TARGET_NAMES } from '../bench/fuzz/target.js';
import { loadTarget } from '../bench/fuzz/targets/index.js';

/**
 * Keeps `npm run fuzz` (bench/fuzz/) working: every target runs a couple of
 * thousand inputs with a fixed seed, in this process, and must find nothing:
 * no crash, no hang. Both outcomes must occur, accepted inputs and refused ones,
 * or the mutations are not reaching (or not getting past) the parsers.
 */
const ITERATIONS = 2000;
const SEED = 20240501;

describe('fuzz harness smoke run (npm run fuzz)', function () {
  this.timeout(60_000);
  let outDir: string;
  let warnings: WarningCounter;

  before(() => {
    outDir = mkdtempSync(join(tmpdir(), 'sphere-rig-fuzz-smoke-'));
    warnings = countWarnings();
  });

  after(async () => {
    // The yaml parser's warnings for odd tags arrive on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    warnings.restore();
    rmSync(outDir, { recursive: true, force: true });
  });

  for (const name of TARGET_NAMES) {
    it(`${name}: ${ITERATIONS} mutated inputs, seed ${SEED}, no crash or hang`, async () => {
      const prepared = await (await loadTarget(name)).prepare();
      const findings: Finding[] = [];
      const counters: Counters = await runTarget(prepared, {
        target: name,
        seed: SEED,
        iterations: ITERATIONS,
        hangMs: 1000,
        outDir,
        onFinding: (finding) => findings.push(finding),
      });
      await prepared.close?.();
      const described = findings.map((f) => `${f.kind} at iteration ${f.iteration}: ${f.signature} (${f.message})`);
      expect(described, `replay with: npm run fuzz -- --target ${name} --seed ${SEED} --replay-iteration N`).to.deep.equal([]);
      expect(counters.get(Slot.Crashes) + counters.get(Slot.Hangs)).to.equal(0);
      expect(counters.get(Slot.Done)).to.equal(ITERATIONS);
      expect(counters.get(Slot.Accepted), 'accepted inputs').to.be.greaterThan(ITERATIONS / 50);
      expect(counters.get(Slot.Rejected), 'refused inputs').to.be.greaterThan(ITERATIONS / 10);
      expect(readdirSync(outDir)).to.deep.equal([]);
    });
  }
});
