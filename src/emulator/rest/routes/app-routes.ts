import { openApplication } from '../../../image/application-image.js';
import type { AppManifest } from '../../../image/app-manifest.js';
import { Capability } from '../../../image/capability-image.js';
import { DeviceRefusal } from '../../device-error.js';
import type { EmulatedBoard } from '../../emulated-board.js';
import { headerCapabilities } from '../capability-authorization.js';
import { readJsonBody, requestSchema } from '../json-request.js';
import { componentIdParam, type RestRoute } from '../rest-route.js';

/**
 * Applications: state (GET, and PATCH with a start/startDebug/stop trigger) and
 * mutable storage quota. GET /app/status answers {"state": ...} as devices do
 * (device-rest-api.md); an unknown component is "notPresent", not an error.
 */
const APPLICATION_NOT_PRESENT = 14680076;
const DEBUG_SERVER_NOT_PRESENT = 3145738;
const QUOTA_UNAVAILABLE = 10485766;
/** Real-time capable apps run on an M4 core; the emulator puts them on the first. */
const REAL_TIME_CORE = 1;

const triggerBody = requestSchema<{ trigger: 'start' | 'startDebug' | 'stop' }>({
  type: 'object',
  required: ['trigger'],
  properties: { trigger: { type: 'string', enum: ['start', 'startDebug', 'stop'] } },
});

/** The manifest of the app installed for this component, read from its flash slot. */
export function installedManifest(board: EmulatedBoard, componentId: string): AppManifest | undefined {
  const app = board.storage.readRecord()?.apps[componentId];
  const bytes = app ? board.storage.readAppSlot(app.slot) : undefined;
  if (!bytes) return undefined;
  try {
    return openApplication(bytes).manifest;
  } catch {
    return undefined;
  }
}

export const appRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/app/status/:componentId',
    access: 'servicing',
    handle: ({ board }, { req, res }) => res.json({ state: board.appState(componentIdParam(req)) }),
  },
  {
    method: 'patch',
    path: '/app/status/:componentId',
    access: 'servicing',
    handle: async ({ board }, { req, res, granted }) => {
      const componentId = componentIdParam(req);
      const { trigger } = (await readJsonBody(req, triggerBody, { required: true }))!;
      if (board.appState(componentId) === 'notPresent') throw new DeviceRefusal(APPLICATION_NOT_PRESENT, 400, `no app ${componentId}`);
      if (trigger === 'stop') board.stopApp(componentId);
      else {
        // Debugging needs the debug server, which only AppDevelopment enables.
        if (trigger === 'startDebug' && !granted.includes(Capability.AppDevelopment)) {
          throw new DeviceRefusal(DEBUG_SERVER_NOT_PRESENT, 400, 'debugging needs the AppDevelopment capability');
        }
        const refused = board.apps().some((a) => a.componentId === componentId && a.state === 'refused');
        const session = headerCapabilities(board, req);
        if (refused && session.length) {
          // Refused at load for lack of a capability this request brings: load it with the session's.
          board.startAppWithCapabilities(componentId, session);
          if (trigger === 'startDebug') {
            board.stopApp(componentId);
            board.startApp(componentId, true);
          }
        } else {
          board.startApp(componentId, trigger === 'startDebug');
        }
      }
      const realTime = installedManifest(board, componentId)?.ApplicationType === 'RealTimeCapable';
      res.json({ state: board.appState(componentId), ...(realTime ? { realTimeCore: REAL_TIME_CORE } : {}) });
    },
  },
  {
    method: 'get',
    path: '/app/quota/:componentId',
    access: 'servicing',
    handle: ({ board }, { req, res }) => {
      const componentId = componentIdParam(req);
      const manifest = installedManifest(board, componentId);
      if (!manifest) throw new DeviceRefusal(QUOTA_UNAVAILABLE, 404, `no app ${componentId} is installed`);
      // Emulated apps write nothing, so their usage stays 0; the limit is the manifest's MutableStorage.
      res.json({ UsageKB: 0, LimitKB: manifest.Capabilities.MutableStorage?.SizeKB ?? 0 });
    },
  },
];
