import type { RestRoute } from '../rest-route.js';

/**
 * Diagnostics: the pending error report (GET /telemetry, in the emulator's
 * documented JSON encoding from error-reports.ts, served as
 * application/octet-stream like the device's binary blob; DELETE clears it),
 * the device log (the binary banks of device-log-format.md, kept by
 * device-log-recorder.ts; Microsoft's client takes the bytes only with exactly
 * this content type) and application memory statistics.
 */
export const diagnosticsRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/telemetry',
    access: 'servicing',
    handle: ({ board }, { res }) => {
      res.type('application/octet-stream').send(Buffer.from(JSON.stringify(board.reports.report()), 'utf8'));
    },
  },
  {
    method: 'delete',
    path: '/telemetry',
    access: 'servicing',
    handle: ({ board }, { res }) => {
      board.reports.clear();
      res.json({});
    },
  },
  {
    method: 'get',
    path: '/log',
    access: 'servicing',
    handle: ({ history }, { res }) => {
      res.type('application/octet-stream').send(history.bytes());
    },
  },
  {
    method: 'get',
    path: '/stats/memory/groups/applications',
    access: 'app-development',
    handle: ({ memory }, { res }) => res.json(memory.statistics()),
  },
];
