import { expect } from 'chai';
import { parseImagePackage, readImageFacts } from '../../src/image/image-package.js';
import { startBootedBoard } from '../helpers/booted-board.js';
import { disconnect, type ConnectedBoard, type EmulatorProcess } from '../helpers/emulator-process.js';
import { b64, type RigKeys } from '../helpers/rig-keys.js';

/**
 * Power cut before every flash operation of an update (issue: "no brick"). For
 * each cut point the board must come back on a complete, verified image set:
 * the old one if the switch had not happened, the new one if it had, never a
 * mix. SPHERE_RIG_FULL_SWEEP is not needed: these sweeps are exhaustive and fast
 * because every flash operation is a whole erase block or program unit.
 */
const APP_ID = '7e0e9a11-2f4c-4c8e-9a57-0d6c1b2a3f40';

interface Info {
  state: string;
  osVersion: string | null;
  trial: boolean;
  apps: Array<{ componentId: string; imageId: string; state: string; trial: boolean }>;
  flash: { operationsSinceMark: number };
}

const imageIdOf = (bytes: Buffer) => readImageFacts(parseImagePackage(bytes)).identity!.imageId;

describe('emulated board: power cut at every flash operation', function () {
  this.timeout(300_000);
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;
  let keys: RigKeys;
  const info = async () => (await board.control.request('info', {})) as unknown as Info;

  beforeEach(async () => {
    ({ emulator, keys, board } = await startBootedBoard({ healthWindowMs: 20, watchdogMs: 10, appRestartMs: 10 }));
  });

  afterEach(async () => {
    await disconnect(board);
    await emulator.stop();
  });

  /** Wait until the board has settled: up, and no trial pending. */
  async function settle(): Promise<Info> {
    for (;;) {
      // Mark before asking: a line that lands after the answer is still seen.
      const mark = board.console.mark();
      const state = await info();
      if (state.state === 'ready' && !state.trial && !state.apps.some((a) => a.trial)) return state;
      await board.console.expect(/^\[OS\] (update committed|app .* update committed|services up)|^\[ROM\] no bootable/, { timeoutMs: 10_000, since: mark });
    }
  }

  /** Install with a cut armed before `operation`; returns the ops the install itself took if it finished. */
  async function installWithCut(images: Buffer[], operation: number | undefined): Promise<number | undefined> {
    await board.control.request('flash-mark', {});
    if (operation !== undefined) await board.control.request('power-cut', { beforeOperation: operation });
    const cut = operation === undefined ? undefined : board.control.waitForEvent((e) => e.event === 'power-cut', { timeoutMs: 20_000 });
    const reply = await board.control.request('install', { images: b64(images) }).catch(() => undefined);
    if (cut) {
      await cut;
      await board.control.request('power', { on: true });
    }
    return reply ? Number(reply.operationsSinceMark) : undefined;
  }

  /** Every boot since `since` that reached services up verified all ten images of one known set. */
  function assertCompleteSets(since: number, sets: Map<string, Set<string>>): void {
    const lines = board.console.lines(since).map((l) => l.text);
    // Lines of a boot already under way at `since` may still be arriving: judge whole boots only.
    let verified: string[] | undefined;
    for (const line of lines) {
      if (/^\[ROM\] booting slot/.test(line)) verified = [];
      const id = / verified \w+ ([0-9a-f-]{36})$/.exec(line)?.[1];
      if (id) verified?.push(id);
      if (line === '[OS] services up' && verified) {
        const boot = verified;
        expect(boot, `ten images verified before services up:\n${lines.join('\n')}`).to.have.length(10);
        const matching = [...sets.entries()].filter(([, ids]) => boot.every((v) => ids.has(v)));
        expect(matching, `a boot ran a mixed set: ${boot.join(' ')}`).to.have.length(1);
      }
    }
  }

  it('an OS update: old set before the switch, new set after, nothing else', async () => {
    const sets = { '22.11': keys.osSet('22.11', 1), '22.12': keys.osSet('22.12', 1) };
    const ids = new Map(Object.entries(sets).map(([v, images]) => [v, new Set(images.map(imageIdOf))]));
    // The baseline on the board was built at provisioning: learn its IDs from the console.
    ids.set('baseline', new Set(board.console.lines(0).map((l) => / verified \w+ ([0-9a-f-]{36})$/.exec(l.text)?.[1]).filter((x): x is string => !!x)));
    const switchAt = (await installWithCut(sets['22.12'], undefined))!;
    const settled = await settle();
    expect(settled.osVersion).to.equal('22.12');
    const total = settled.flash.operationsSinceMark;
    expect(total).to.be.greaterThan(switchAt);
    for (let i = 1; i <= total; i++) {
      const current = (await info()).osVersion!;
      const target = current === '22.11' ? '22.12' : '22.11';
      const since = board.console.mark();
      await installWithCut(sets[target as '22.11' | '22.12'], i);
      const after = await settle();
      await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
      expect(after.osVersion, `cut before operation ${i} of ${total} (switch at ${switchAt})`).to.equal(i <= switchAt ? current : target);
      assertCompleteSets(since, ids);
    }
    console.log(`      checked ${total} cut points of an OS update (switch after operation ${switchAt})`);
  });

  it('the rollback of a failing OS update: always back on the old set, never bricked', async () => {
    await board.control.request('hang', { stage: 'KERNEL', onlyInTrial: true });
    const bad = keys.osSet('22.12', 1);
    const cleanSince = board.console.mark();
    await installWithCut(bad, undefined);
    await board.console.expect(/^\[ROM\] rolling back to slot a: trial of slot b ran out of tries$/, { timeoutMs: 10_000, since: cleanSince });
    const settled = await settle();
    expect(settled.osVersion).to.equal('22.11');
    const total = settled.flash.operationsSinceMark;
    const ids = new Map([['bad', new Set(bad.map(imageIdOf))]]);
    ids.set('baseline', new Set(board.console.lines(0).map((l) => / verified \w+ ([0-9a-f-]{36})$/.exec(l.text)?.[1]).filter((x): x is string => !!x)));
    for (let i = 1; i <= total; i++) {
      const since = board.console.mark();
      await installWithCut(bad, i);
      const after = await settle();
      await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
      expect(after.osVersion, `cut before operation ${i} of ${total}`).to.equal('22.11');
      assertCompleteSets(since, ids);
    }
    console.log(`      checked ${total} cut points of a failing update and its rollback`);
  });

  it('an app install: the old app before the switch, the new one after', async () => {
    const versions = [
      keys.app({ name: 'App one', componentId: APP_ID, behaviour: { log: ['one'] } }),
      keys.app({ name: 'App two', componentId: APP_ID, behaviour: { log: ['two'] } }),
    ];
    const ids = versions.map(imageIdOf);
    await installWithCut([versions[0]!], undefined);
    await settle();
    const switchAt = (await installWithCut([versions[1]!], undefined))!;
    const settled = await settle();
    expect(settled.apps.map((a) => a.imageId)).to.deep.equal([ids[1]]);
    const total = settled.flash.operationsSinceMark;
    for (let i = 1; i <= total; i++) {
      const current = ids.indexOf((await info()).apps[0]!.imageId);
      const target = 1 - current;
      await installWithCut([versions[target]!], i);
      const after = await settle();
      expect(after.apps.map((a) => [a.imageId, a.state]), `cut before operation ${i} of ${total}`).to.deep.equal([
        [ids[i <= switchAt ? current : target], 'running'],
      ]);
    }
    console.log(`      checked ${total} cut points of an app install (switch after operation ${switchAt})`);
  });
});
