import { Capability } from '../../../image/capability-image.js';
import { exportPublicKeyDer, publicKeyFromPoint } from '../../../pki/signing-key.js';
import { MANUFACTURING_STATES } from '../../chip.js';
import { abiVersions } from '../abi-versions.js';
import { readJsonBody, requestSchema } from '../json-request.js';
import { refuse } from '../rest-error-codes.js';
import type { RestRoute } from '../rest-route.js';

/**
 * Device state: uptime, OS and ABI versions, security and manufacturing state,
 * capabilities, restart. The first six are open to anyone attached.
 */
type ManufacturingState = (typeof MANUFACTURING_STATES)[number];

/** Forward-only order of the manufacturing state; Unknown cannot be set or left. */
const MANUFACTURING_ORDER: Readonly<Record<ManufacturingState, number>> = { Blank: 0, Module1Complete: 1, DeviceComplete: 2, Unknown: -1 };

const manufacturingBody = requestSchema<{ manufacturingState: 'Module1Complete' | 'DeviceComplete' }>({
  type: 'object',
  required: ['manufacturingState'],
  properties: { manufacturingState: { type: 'string', enum: ['Module1Complete', 'DeviceComplete'] } },
});

export const deviceRoutes: RestRoute[] = [
  {
    method: 'get',
    path: '/status',
    access: 'open',
    handle: ({ board }, { res }) => res.json({ uptime: board.uptimeSeconds }),
  },
  {
    method: 'get',
    path: '/osversion',
    access: 'open',
    handle: ({ board }, { res }) => res.json({ osversion: board.osVersion ?? '' }),
  },
  {
    method: 'get',
    path: '/abi_versions',
    access: 'open',
    handle: ({ board }, { res }) => res.json(abiVersions(board)),
  },
  {
    method: 'get',
    path: '/device/security_state',
    access: 'open',
    handle: ({ board }, { res }) =>
      res.json({
        securityState: board.chip.securityState,
        deviceIdentifier: board.deviceId.toLowerCase(),
        // Deprecated by Microsoft; served as base64 SPKI of the identity key, which the ID encodes.
        deviceIdentityPublicKey: exportPublicKeyDer(publicKeyFromPoint(board.deviceId)).toString('base64'),
      }),
  },
  {
    method: 'get',
    path: '/device/capabilities',
    access: 'open',
    handle: ({ board }, { res }) => {
      const capabilities = board.capabilities();
      // EnableRFTestMode is always present on a Blank device.
      if (board.chip.manufacturingState === 'Blank' && !capabilities.includes(Capability.EnableRfTestMode)) capabilities.push(Capability.EnableRfTestMode);
      res.json({ device_capabilities: capabilities.sort((a, b) => a - b) });
    },
  },
  {
    method: 'get',
    path: '/device/manufacturing_state',
    access: 'open',
    handle: ({ board }, { res }) => res.json({ manufacturingState: board.chip.manufacturingState }),
  },
  {
    method: 'put',
    path: '/device/manufacturing_state',
    access: 'servicing',
    handle: async ({ board }, { req, res }) => {
      const body = (await readJsonBody(req, manufacturingBody, { required: true }))!;
      const current = board.chip.manufacturingState;
      const from = MANUFACTURING_ORDER[current];
      const to = MANUFACTURING_ORDER[body.manufacturingState];
      if (from < 0 || to < from) throw refuse.invalid(`the manufacturing state only moves forward; it is ${current}`);
      if (to > from) {
        board.chip.manufacturingState = body.manufacturingState;
        board.saveChip();
      }
      res.json({});
    },
  },
  {
    method: 'post',
    path: '/restart',
    access: 'servicing',
    handle: ({ board }, { res }) => {
      // Answer first: the restart drops every connection, as a rebooting device does.
      res.once('finish', () => board.restart());
      res.json({});
    },
  },
];
