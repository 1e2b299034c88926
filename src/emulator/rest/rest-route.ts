import type { Request, Response } from 'express';
import type { DeviceLogRecorder } from '../device-log-recorder.js';
import type { EmulatedBoard } from '../emulated-board.js';
import type { Access } from './capability-authorization.js';
import type { DeviceSettingsStore } from './device-settings.js';
import type { MemoryModel } from './memory-statistics.js';
import { refuse } from './rest-error-codes.js';
import type { StagingArea } from './staging-area.js';

/**
 * One operation of the device REST API: method, path (express syntax), who may
 * call it, and its handler. Route files export lists of these; rest-app.ts
 * mounts them behind the version header, the up-check and authorization.
 */
export type RestMethod = 'get' | 'put' | 'post' | 'patch' | 'delete';

/** The device state the handlers work on: one per emulated board. */
export interface RestContext {
  board: EmulatedBoard;
  settings: DeviceSettingsStore;
  staging: StagingArea;
  /** The board's device log, its history as the device keeps it (GET /log). Named `history` as before it was binary: bench/fuzz builds contexts by this name. */
  history: DeviceLogRecorder;
  memory: MemoryModel;
  /** Requests served and bytes received: the firewall's REST rule counts them. */
  traffic: { requests: number; bytes: number };
}

export interface RestCall {
  req: Request;
  res: Response;
  /** Capabilities installed plus those the request's AZSPHERE-CAPABILITIES header grants (empty for open operations). */
  granted: readonly number[];
}

export interface RestRoute {
  method: RestMethod;
  path: string;
  access: Access;
  handle(context: RestContext, call: RestCall): unknown;
}

const UID = /^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/;

/** A path parameter that must be a component ID (the spec's Uid), lower-cased. */
export function componentIdParam(req: Request, name = 'componentId'): string {
  const value = String(req.params[name] ?? '');
  if (!UID.test(value)) throw refuse.invalid(`${name} must be a GUID, got ${JSON.stringify(value.slice(0, 64))}`);
  return value.toLowerCase();
}

/** A path parameter that must be an int32 (Wi-Fi network IDs). */
export function int32Param(req: Request, name: string): number {
  const value = String(req.params[name] ?? '');
  const number = Number(value);
  if (!/^-?\d{1,10}$/.test(value) || !Number.isSafeInteger(number) || number < -(2 ** 31) || number >= 2 ** 31) {
    throw refuse.invalid(`${name} must be a 32-bit integer, got ${JSON.stringify(value.slice(0, 64))}`);
  }
  return number;
}
