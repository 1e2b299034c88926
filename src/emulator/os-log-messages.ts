import { logMessageByName, logPriority, type LogMessage } from '../firmware/device-log/log-manifests.js';
import type { LogArg } from '../firmware/device-log/log-param-codec.js';

/**
 * What the emulated OS writes to its device log, as messages of Microsoft's
 * OS 24.06 log manifests (../shared/spec/device-log-format.md). The manifests
 * have no category for ROM, 1BL, Pluton, the Security Monitor or the kernel,
 * so the boot stages themselves stay on the emulator's readable trace; the log
 * holds what the OS's services would write. Where no manifest message says
 * exactly what the emulator does, the closest one was chosen (inferred):
 *
 * | event | module / message |
 * | --- | --- |
 * | OS up (every boot) | appman_init LoggerStarted, Init; gatewayd OsVersion; appman_apps InitializingNetworkd; networkd StartingNetworkD, AddedInterfaceDefault + ConnectedStatusChanged (azspheresvc, the service link) |
 * | apps at boot | appman AppmanInitStart, AppParameters per app, AppmanInitEnd |
 * | install | azured AttemptingToInstallStagedUpdates; gatewayd StageImageSuccess per image; appman SideloadRequiresReboot (OS); refused: appman ErrorInstallingImages (the device error code) |
 * | a REST request refused | gatewayd CommonError (the code the answer carries) |
 * | trial committed | azured CommitImage |
 * | OS rollback, a slot the boot chain refused | azured ErrorInstallingUpdates (UpdateCommitFailed for a failed trial, VerificationFailed for a refused slot) |
 * | app rollback | appman InvalidatingImage |
 * | app start, debug, stop, relaunch, refusal, removal | appman_apps StartingApp, DebuggingApp, StoppingApp; appman RelaunchedApp, InitializeAppFailed; gatewayd SuccessfulDelete |
 * | app exit, crash | appman ChildExitedWithStatus; appman ProcessSignaled + ChildTerminatedBySignal |
 * | restart | appman SystemHasStartedRebooting |
 * | recovery (ROM agent) | azured OpenImageForUpdate (erase), CommitImage (written), ErrorInstallingUpdates (the RecoveryError code of a refusal) |
 * | device authentication | networkd DeviceAuthServiceContactingDAA, DeviceAuthSuccess, DeviceAuthFailure (a DeviceAuthError code) |
 *
 * Priorities are the manifest's, except Debug, which real devices write as
 * Info (Microsoft's sample log, device-log-format.md section 3).
 */
const TABLE = {
  loggerStarted: ['appman_init', 'LoggerStarted'],
  appmanInit: ['appman_init', 'Init'],
  osVersion: ['gatewayd', 'OsVersion'],
  networkdInit: ['appman_apps', 'InitializingNetworkd'],
  networkdStarting: ['networkd', 'StartingNetworkD'],
  interfaceAdded: ['networkd', 'AddedInterfaceDefault'],
  interfaceConnected: ['networkd', 'ConnectedStatusChanged'],
  appInitStart: ['appman', 'AppmanInitStart'],
  appParameters: ['appman', 'AppParameters'],
  appInitEnd: ['appman', 'AppmanInitEnd'],
  installing: ['azured', 'AttemptingToInstallStagedUpdates'],
  imageStaged: ['gatewayd', 'StageImageSuccess'],
  installRefused: ['appman', 'ErrorInstallingImages'],
  restRefused: ['gatewayd', 'CommonError'],
  rebootRequired: ['appman', 'SideloadRequiresReboot'],
  updateCommitted: ['azured', 'CommitImage'],
  updateFailed: ['azured', 'ErrorInstallingUpdates'],
  appInvalidated: ['appman', 'InvalidatingImage'],
  appStarting: ['appman_apps', 'StartingApp'],
  appDebugging: ['appman_apps', 'DebuggingApp'],
  appStopping: ['appman_apps', 'StoppingApp'],
  appRelaunched: ['appman', 'RelaunchedApp'],
  appRefused: ['appman', 'InitializeAppFailed'],
  appRemoved: ['gatewayd', 'SuccessfulDelete'],
  appExited: ['appman', 'ChildExitedWithStatus'],
  appSignaled: ['appman', 'ProcessSignaled'],
  appKilledBySignal: ['appman', 'ChildTerminatedBySignal'],
  rebooting: ['appman', 'SystemHasStartedRebooting'],
  recoveryErasing: ['azured', 'OpenImageForUpdate'],
  recoveryWritten: ['azured', 'CommitImage'],
  recoveryRefused: ['azured', 'ErrorInstallingUpdates'],
  deviceAuthContacting: ['networkd', 'DeviceAuthServiceContactingDAA'],
  deviceAuthSuccess: ['networkd', 'DeviceAuthSuccess'],
  deviceAuthFailure: ['networkd', 'DeviceAuthFailure'],
} as const satisfies Record<string, readonly [string, string]>;

export type OsLogMessage = keyof typeof TABLE;

/** One thing the emulated OS logs: emitted by the board as `os-log`, written by device-log-recorder.ts. */
export interface OsLogEvent {
  message: OsLogMessage;
  /** In the manifest message's parameter order. */
  args: LogArg[];
  /** Board-clock milliseconds since the board started booting (the entry's timestamp). */
  uptimeMs: number;
}

/** Resolved when this module loads: a name the manifests lack fails at once. */
const RESOLVED = new Map<OsLogMessage, { manifest: LogMessage; priority: number }>(
  Object.entries(TABLE).map(([key, [category, name]]) => {
    const manifest = logMessageByName(category, name);
    const priority = manifest.priority === 'Debug' ? logPriority('Info') : logPriority(manifest.priority);
    return [key as OsLogMessage, { manifest, priority }];
  }),
);

export function osLogMessage(message: OsLogMessage): { manifest: LogMessage; priority: number } {
  return RESOLVED.get(message)!;
}

export function osLogMessages(): OsLogMessage[] {
  return Object.keys(TABLE) as OsLogMessage[];
}
