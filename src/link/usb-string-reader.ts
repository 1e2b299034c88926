import { setTimeout as delay } from 'node:timers/promises';
import { Deadline } from './deadline.js';
import type { UsbDeviceFacts, UsbDeviceStrings } from './usb-device-facts.js';

/**
 * How discovery gets a device's strings without disturbing it, in order:
 * what it already knows of that bus address (a device keeps its strings until
 * it re-enumerates, and then gets a new address), sysfs on Linux (opens
 * nothing), and only then the device itself, opened briefly, and never when
 * the rig holds it. Right after hot-plug a device may refuse (udev has not
 * yet given it its group: access; still configuring: busy), so an attach
 * retries for a while where a scan asks once.
 */
export type StringsError = NonNullable<UsbDeviceFacts['stringsError']>;

export interface UsbStringSources {
  /** Strings read earlier for this bus address, if any. */
  cached(facts: UsbDeviceFacts): UsbDeviceStrings | undefined;
  /** Linux: the kernel's copy in sysfs; undefined where there is none. */
  fromSysfs?(facts: UsbDeviceFacts): UsbDeviceStrings | undefined;
  /** The rig holds this device open (its FTDI pins): it must not be opened, or closed, again. */
  held(facts: UsbDeviceFacts): boolean;
  /** Opens the device, reads its three strings, closes it; the error says why not. */
  fromDevice(facts: UsbDeviceFacts): Promise<{ strings: UsbDeviceStrings } | { error: StringsError }>;
  /** Remembers what was read. */
  remember(facts: UsbDeviceFacts, strings: UsbDeviceStrings): void;
}

export interface StringReadPolicy {
  /** How long to keep trying after a refusal; 0: one attempt (a scan). */
  retryWindowMs: number;
  /** Pause between attempts. */
  retryPollMs: number;
}

export const SCAN_POLICY: StringReadPolicy = { retryWindowMs: 0, retryPollMs: 0 };
/** After hot-plug: about 2 s, every 200 ms. */
export const HOTPLUG_POLICY: StringReadPolicy = { retryWindowMs: 2_000, retryPollMs: 200 };

export async function readUsbStrings(facts: UsbDeviceFacts, sources: UsbStringSources, policy: StringReadPolicy): Promise<Pick<UsbDeviceFacts, 'strings' | 'stringsError'>> {
  const deadline = new Deadline(policy.retryWindowMs);
  for (;;) {
    const known = sources.cached(facts) ?? sources.fromSysfs?.(facts);
    if (known) {
      sources.remember(facts, known);
      return { strings: known };
    }
    let error: StringsError;
    if (sources.held(facts)) {
      error = { kind: 'busy', message: 'held open by this rig (its FTDI pins) and its strings are not in sysfs: not opened again' };
    } else {
      const read = await sources.fromDevice(facts);
      if ('strings' in read) {
        sources.remember(facts, read.strings);
        return { strings: read.strings };
      }
      error = read.error;
    }
    // A device that left will not come back at this address; anything else may settle.
    if (error.kind === 'gone' || deadline.expired()) return { stringsError: error };
    await delay(Math.min(policy.retryPollMs, Math.max(1, deadline.remainingMs())));
  }
}
