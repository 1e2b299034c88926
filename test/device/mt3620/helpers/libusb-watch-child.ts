import { NodeUsbBus } from '../../../../src/link/usb-node-bus.js';

/**
 * Child program for the discovery test: the real node-usb binding behind a
 * simulated /dev/bus/usb. It lists, starts following hot-plug and never stops:
 * the process must still end by itself (hot-plug is unreferenced).
 */
const bus = await NodeUsbBus.open({ platform: 'linux', exists: () => true, readable: () => true, deviceNodes: () => [] });
const devices = await bus.devices({ timeoutMs: 2_000 });
bus.watch(() => undefined);
process.stdout.write(`${JSON.stringify({ devices: devices.length })}\n`);
