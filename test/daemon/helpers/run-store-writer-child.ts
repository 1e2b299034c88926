// Writes runs as fast as it can, each a whole record of 20 steps and 200 console
// lines plus step-by-step updates, until the parent SIGKILLs it mid-way.
import { RunStore } from '../../../src/daemon/run-store.js';
import { runRecord, step } from './run-records.js';

const store = RunStore.open(process.argv[2]!);
let n = 0;
for (;;) {
  const id = `run-${String(n).padStart(6, '0')}`;
  store.save(runRecord(id, { status: 'running', verdict: null, endedAt: null }, 20, 200));
  store.saveStep(id, step(20, 'passed'));
  store.update(id, { status: 'finished', verdict: 'passed', endedAt: new Date().toISOString() });
  n++;
  if (n === 20) process.stdout.write('writing\n');
}
