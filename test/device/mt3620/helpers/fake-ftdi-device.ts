import type { UsbControlSetup, UsbDeviceHandle, UsbInterfaceInfo, UsbOutResult } from '../../../../src/link/usb-device-handle.js';
import { bmRequestTypeOf } from '../../../../src/device/mt3620/ftdi-protocol.js';

/**
 * A WebUSB-style FT4232H that records every call in order: open/close,
 * claim/release (the kernel-driver detach and re-attach), each control
 * transfer as it would go on the wire (bmRequestType, bRequest, wValue,
 * wIndex), each bulk OUT write with its bytes and each kernel-driver re-attach. Scripted failures: a call
 * can be made to stall, or to never finish.
 */
export type FtdiCall =
  | { op: 'open' }
  | { op: 'close' }
  | { op: 'claim'; interface: number }
  | { op: 'release'; interface: number }
  | { op: 'reattach'; interface: number }
  | { op: 'control'; bmRequestType: number; bRequest: number; wValue: number; wIndex: number; length: number }
  | { op: 'bulk-out'; endpoint: number; bytes: number[] };

/** FT4232H endpoints: interface n has bulk IN 0x81+2n and bulk OUT 0x02+2n. */
export function ft4232hConfiguration(): { interfaces: UsbInterfaceInfo[] } {
  return {
    interfaces: [0, 1, 2, 3].map((n) => ({
      interfaceNumber: n,
      alternate: {
        endpoints: [
          { endpointNumber: 1 + 2 * n, direction: 'in' as const, type: 'bulk' as const },
          { endpointNumber: 2 + 2 * n, direction: 'out' as const, type: 'bulk' as const },
        ],
      },
    })),
  };
}

export class FakeFtdiDevice implements UsbDeviceHandle {
  readonly calls: FtdiCall[] = [];
  opened = false;
  readonly claimed = new Set<number>();
  /** Set before an operation to make the next matching call misbehave. */
  stallNext: FtdiCall['op'] | undefined;
  hangNext: FtdiCall['op'] | undefined;

  constructor(
    readonly serialNumber: string | null = 'AS0T5R9KQ2',
    readonly configuration: { interfaces: UsbInterfaceInfo[] } | null = ft4232hConfiguration(),
  ) {}

  async open(): Promise<void> {
    await this.#misbehave('open');
    this.calls.push({ op: 'open' });
    this.opened = true;
  }

  async close(): Promise<void> {
    this.calls.push({ op: 'close' });
    this.opened = false;
    this.claimed.clear();
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    this.#mustBeOpen();
    await this.#misbehave('claim');
    this.calls.push({ op: 'claim', interface: interfaceNumber });
    this.claimed.add(interfaceNumber);
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    this.#mustBeOpen();
    this.calls.push({ op: 'release', interface: interfaceNumber });
    this.claimed.delete(interfaceNumber);
  }

  /** The kernel driver is rebound (node-usb's attachKernelDriver when none is active). */
  async attachKernelDriver(interfaceNumber: number): Promise<void> {
    this.#mustBeOpen();
    this.calls.push({ op: 'reattach', interface: interfaceNumber });
  }

  async controlTransferOut(setup: UsbControlSetup, data?: ArrayBuffer): Promise<UsbOutResult> {
    this.#mustBeOpen();
    if (await this.#misbehave('control')) return { bytesWritten: 0, status: 'stall' };
    this.calls.push({ op: 'control', bmRequestType: bmRequestTypeOf(setup), bRequest: setup.request, wValue: setup.value, wIndex: setup.index, length: data?.byteLength ?? 0 });
    return { bytesWritten: data?.byteLength ?? 0, status: 'ok' };
  }

  async transferOut(endpointNumber: number, data: ArrayBuffer): Promise<UsbOutResult> {
    this.#mustBeOpen();
    if (await this.#misbehave('bulk-out')) return { bytesWritten: 0, status: 'stall' };
    const bytes = [...new Uint8Array(data)];
    this.calls.push({ op: 'bulk-out', endpoint: endpointNumber, bytes });
    return { bytesWritten: bytes.length, status: 'ok' };
  }

  /** The calls as compact strings, e.g. `control 40 0b 0140 0002`, `bulk-out 4 [00]`. */
  trace(): string[] {
    return this.calls.map(describe);
  }

  #mustBeOpen(): void {
    if (!this.opened) throw new Error('device not open');
  }

  async #misbehave(op: FtdiCall['op']): Promise<boolean> {
    if (this.hangNext === op) {
      this.hangNext = undefined;
      await new Promise(() => undefined);
    }
    if (this.stallNext === op) {
      this.stallNext = undefined;
      return true;
    }
    return false;
  }
}

const h2 = (n: number) => n.toString(16).padStart(2, '0');
const h4 = (n: number) => n.toString(16).padStart(4, '0');

export function describe(call: FtdiCall): string {
  switch (call.op) {
    case 'control':
      return `control ${h2(call.bmRequestType)} ${h2(call.bRequest)} ${h4(call.wValue)} ${h4(call.wIndex)}${call.length ? ` +${call.length}` : ''}`;
    case 'bulk-out':
      return `bulk-out ${call.endpoint} [${call.bytes.map(h2).join(' ')}]`;
    case 'claim':
    case 'release':
    case 'reattach':
      return `${call.op} ${call.interface}`;
    default:
      return call.op;
  }
}
