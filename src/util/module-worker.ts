import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on an ES module of this project. Built, that module
 * is JavaScript in dist/ and loads as it is. Run from the sources (the tests
 * and benches load TypeScript through tsx), the worker would not inherit tsx's
 * loader: it registers it first, then imports the module.
 */
export function startModuleWorker(module: URL, options: WorkerOptions = {}): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, options);
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
