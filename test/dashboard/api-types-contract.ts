import type * as Page from '../../src/dashboard/api-types.js';
import type { BoardHealth, BoardHealthStatus } from '../../src/daemon/board-health.js';
import type { DaemonEventPayloads } from '../../src/daemon/daemon-event.js';
import type { ParamSpec } from '../../src/scenario/scenario-params.js';
import type * as Server from '../../src/scenario/run-record.js';
import type { Verdict } from '../../src/scenario/verdict.js';
import type { BoardState } from '../../src/device/board.js';

/**
 * The dashboard is compiled on its own (browser types, no bundler), so it keeps
 * its own copy of the API's types in src/dashboard/api-types.ts. This file, type
 * checked by `npm test` and never run, holds that copy to the daemon's types:
 * whatever the daemon sends must be something the page's types accept. A change
 * on either side that breaks that fails the type check here, naming the type.
 */
type Accepts<PageType, ServerType> = [ServerType] extends [PageType] ? true : false;
/** The event types whose payload the page's types do not accept (never when all are). */
type UnacceptedPayloads = { [T in keyof DaemonEventPayloads]: Accepts<Page.EventPayloads[T], DaemonEventPayloads[T]> extends true ? never : T }[keyof DaemonEventPayloads];

export const apiTypesContract: {
  verdict: Accepts<Page.Verdict, Verdict>;
  verdictBack: Accepts<Verdict, Page.Verdict>;
  runStatus: Accepts<Page.RunStatus, Server.RunStatus>;
  boardState: Accepts<Page.BoardState, BoardState>;
  healthStatus: Accepts<Page.HealthStatus, BoardHealthStatus>;
  healthStatusBack: Accepts<BoardHealthStatus, Page.HealthStatus>;
  boardHealth: Accepts<Page.BoardHealth, BoardHealth>;
  runKind: Accepts<Page.RunKind, Server.RunKind>;
  scenarioParam: Accepts<Page.ScenarioParamDeclaration, ParamSpec>;
  measurement: Accepts<Page.Measurement, Server.Measurement>;
  stepRecord: Accepts<Page.StepRecord, Server.StepRecord>;
  artefact: Accepts<Page.Artefact, Server.Artefact>;
  provenance: Accepts<Page.Provenance, Server.Provenance>;
  runRecord: Accepts<Page.RunRecord, Server.RunRecord>;
  eventTypes: Accepts<keyof Page.EventPayloads, keyof DaemonEventPayloads>;
  eventTypesBack: Accepts<keyof DaemonEventPayloads, keyof Page.EventPayloads>;
  /** Every event's payload, type by type: `true` when all are accepted, else the failing event types (named in the error). */
  eventPayloads: [UnacceptedPayloads] extends [never] ? true : UnacceptedPayloads;
} = {
  verdict: true,
  verdictBack: true,
  runStatus: true,
  boardState: true,
  healthStatus: true,
  healthStatusBack: true,
  boardHealth: true,
  runKind: true,
  scenarioParam: true,
  measurement: true,
  stepRecord: true,
  artefact: true,
  provenance: true,
  runRecord: true,
  eventTypes: true,
  eventTypesBack: true,
  eventPayloads: true,
};
