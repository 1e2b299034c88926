import { describeDeviceError, parseDeviceErrorCode, type DeviceErrorDescription } from '../util/device-error-catalog.js';
import { DEVICE_ERROR_MESSAGES } from '../util/device-error-codes.js';
import { UsageError } from './action.js';

/** What `sphere-rig explain` says about one code. */
export interface DeviceErrorExplanation extends DeviceErrorDescription {
  /** The code as 8 hex digits. */
  hex: string;
  /** The text Microsoft's device API client shows for it, when it has one. */
  clientMessage?: string;
}

/** The catalog's entry for a code as typed; a malformed code, or one the catalog does not name, is a usage error. */
export function explainDeviceErrorCode(text: string): DeviceErrorExplanation {
  const code = parseDeviceErrorCode(text);
  if (code === undefined) {
    throw new UsageError(`'${text}' is not a device error code: give a decimal number (7340047), 0x hex (0x0070000f) or category:id (7:15)`);
  }
  const description = describeDeviceError(code);
  if (description.standing === 'unknown') {
    throw new UsageError(`${code} is not in the error catalog: category ${description.category} is not one of Azure Sphere OS 24.06's categories`);
  }
  if (description.standing === 'unlisted-id') {
    throw new UsageError(`${code} is not in the error catalog: ${description.categoryName} (category ${description.category}) lists no id ${description.id}`);
  }
  const clientMessage = DEVICE_ERROR_MESSAGES[code];
  return { ...description, hex: `0x${code.toString(16).padStart(8, '0')}`, ...(clientMessage ? { clientMessage } : {}) };
}

export function formatExplanation(e: DeviceErrorExplanation): string {
  const lines = [
    `${e.code} (${e.hex})  ${e.name}`,
    `category  ${e.category} ${e.categoryName ?? ''} (${e.category} << 20 | ${e.id})`.replace(/  \(/, ' ('),
    `message   ${e.message}`,
  ];
  if (e.clientMessage) lines.push(`client    ${e.clientMessage}`);
  if (e.openapi) lines.push('          documented as a device REST API error (openapi)');
  return `${lines.join('\n')}\n`;
}
