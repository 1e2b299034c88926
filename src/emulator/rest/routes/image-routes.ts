import { DeviceErrorCode } from '../../../util/device-error-codes.js';
import { DeviceRefusal } from '../../device-error.js';
import { headerCapabilities } from '../capability-authorization.js';
import { listComponents } from '../image-inventory.js';
import { readJsonBody, requestSchema } from '../json-request.js';
import { IMAGE_BODY_LIMIT, readRequestBody } from '../request-body.js';
import { refuse } from '../rest-error-codes.js';
import { componentIdParam, type RestRoute } from '../rest-route.js';

/**
 * Images and sideloading: list, stage (raw package, checked as a device checks
 * it), install what is staged, remove an app. Sideloading is refused with
 * 7340071 while an over-the-air update is in progress.
 */
const APPLICATION_NOT_PRESENT = 14680076;

const installBody = requestSchema<{ appControlMode?: 'Auto' | 'Manual' }>({
  type: 'object',
  properties: { appControlMode: { type: 'string', enum: ['Auto', 'Manual'] } },
});

function refuseDuringOta(otaInProgress: boolean): void {
  if (otaInProgress) throw new DeviceRefusal(DeviceErrorCode.SideloadDisabledOtaInProgress, 409, 'an over-the-air update is in progress');
}

export const imageRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/images',
    access: 'servicing',
    handle: ({ board, staging }, { res }) => res.json(listComponents(board, staging)),
  },
  {
    method: 'put',
    path: '/update/stage',
    access: 'servicing',
    handle: async ({ board, staging }, { req, res, granted }) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/octet-stream') throw refuse.unsupportedMediaType(`expected Content-Type application/octet-stream, got ${type || 'none'}`);
      const bytes = await readRequestBody(req, IMAGE_BODY_LIMIT);
      refuseDuringOta(board.otaInProgress);
      if (bytes.length === 0) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, 'the body is empty');
      staging.stage(board, bytes, granted);
      res.json({});
    },
  },
  {
    method: 'post',
    path: '/update/install',
    access: 'servicing',
    handle: async ({ board, staging }, { req, res }) => {
      const body = await readJsonBody(req, installBody, { required: false });
      refuseDuringOta(board.otaInProgress);
      const outcome = await staging.install(board, { extraCapabilities: headerCapabilities(board, req), manualStart: body?.appControlMode === 'Manual' });
      res.json({ restartingSystem: outcome.restartingSystem });
    },
  },
  {
    method: 'delete',
    path: '/app/image/:componentId',
    access: 'servicing',
    handle: async ({ board }, { req, res }) => {
      const componentId = componentIdParam(req);
      if (!board.storage.readRecord()?.apps[componentId]) throw new DeviceRefusal(APPLICATION_NOT_PRESENT, 400, `no app ${componentId} is installed`);
      refuseDuringOta(board.otaInProgress);
      res.json(await board.removeApp(componentId));
    },
  },
];
