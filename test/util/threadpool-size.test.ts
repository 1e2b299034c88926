import { expect } from 'chai';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

const { sizeThreadpool } = createRequire(import.meta.url)('../../bin/threadpool-size.cjs') as { sizeThreadpool: (env: NodeJS.ProcessEnv) => void };

/** The libuv pool size every sphere-rig process starts with (bin/sphere-rig.js). */
describe('threadpool size (bin/threadpool-size.cjs)', () => {
  it('is one thread fewer than the cores, 1 to 4, when not set', () => {
    const env: NodeJS.ProcessEnv = {};
    sizeThreadpool(env);
    expect(env.UV_THREADPOOL_SIZE).to.equal(String(Math.min(4, Math.max(1, availableParallelism() - 1))));
  });

  it("keeps the user's UV_THREADPOOL_SIZE", () => {
    const env: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: '7' };
    sizeThreadpool(env);
    expect(env.UV_THREADPOOL_SIZE).to.equal('7');
  });
});
