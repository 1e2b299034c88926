import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { ERROR_REPORTS_FILE } from './chip.js';

/**
 * Error reports ("crash reports") as Azure Sphere's CSV has them: device ID,
 * event category, class, type, count, description, start and end time. Events
 * with the same class and description aggregate into one row with a count and
 * first/last times (board clock).
 *
 * Encoding served at GET /telemetry (project-defined, documented in README):
 * UTF-8 JSON `{"format":"sphere-rig/error-report","version":1,"deviceId":...,
 * "events":[{category, eventClass, eventType, count, description, startTime,
 * endTime}]}`.
 */
export type EventCategory = 'Application' | 'OS';
export type EventClass = 'AppExit' | 'AppCrash' | 'BootFailure' | 'Rollback' | 'OSUpdate' | 'AppUpdate' | 'UpdateRefused';
export type EventType = 'Planned' | 'Unplanned';

export interface ErrorReportEvent {
  category: EventCategory;
  eventClass: EventClass;
  eventType: EventType;
  count: number;
  description: string;
  startTime: string;
  endTime: string;
}

export interface ErrorReport {
  format: 'sphere-rig/error-report';
  version: 1;
  deviceId: string;
  events: ErrorReportEvent[];
}

const CSV_HEADER = ['Device ID', 'Event Category', 'Event Class', 'Event Type', 'Event Count', 'Description', 'Start Time', 'End Time'];
/** Bounded: a crash-looping app must not grow the file without limit. */
const MAX_ROWS = 500;

export class ErrorReportLog {
  #events: ErrorReportEvent[];

  constructor(
    private readonly boardDir: string,
    private readonly deviceId: string,
  ) {
    const path = join(boardDir, ERROR_REPORTS_FILE);
    this.#events = [];
    if (existsSync(path)) {
      try {
        const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<ErrorReport>;
        if (Array.isArray(stored.events)) this.#events = stored.events;
      } catch {
        // A damaged report file is replaced rather than stopping the board.
        this.#events = [];
      }
    }
  }

  record(event: { category: EventCategory; eventClass: EventClass; eventType: EventType; description: string }, at: Date): void {
    const time = at.toISOString();
    const existing = this.#events.find((e) => e.eventClass === event.eventClass && e.description === event.description);
    if (existing) {
      existing.count += 1;
      existing.endTime = time;
    } else {
      if (this.#events.length >= MAX_ROWS) this.#events.shift();
      this.#events.push({ ...event, count: 1, startTime: time, endTime: time });
    }
    this.#save();
  }

  report(): ErrorReport {
    return { format: 'sphere-rig/error-report', version: 1, deviceId: this.deviceId, events: this.#events.map((e) => ({ ...e })) };
  }

  clear(): void {
    this.#events = [];
    this.#save();
  }

  #save(): void {
    writeFileAtomic(join(this.boardDir, ERROR_REPORTS_FILE), `${JSON.stringify(this.report())}\n`);
  }
}

export function errorReportToCsv(report: ErrorReport): string {
  const quote = (v: string | number) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rows = report.events.map((e) =>
    [report.deviceId.toUpperCase(), e.category, e.eventClass, e.eventType, e.count, e.description, e.startTime, e.endTime].map(quote).join(','),
  );
  return [CSV_HEADER.join(','), ...rows].join('\n') + '\n';
}

export const describeAppCrash = (p: { exitStatus: number; signal: number; signalCode: number; componentId: string; imageId: string }) =>
  `AppCrash (exit_status=${p.exitStatus}; signal_status=${p.signal}; signal_code=${p.signalCode}; component_id=${p.componentId}; image_id=${p.imageId})`;

export const describeAppExit = (p: { exitCode: number; componentId: string; imageId: string }) =>
  `AppExit (exit_code=${p.exitCode}; component_id=${p.componentId}; image_id=${p.imageId})`;
