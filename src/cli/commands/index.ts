import type { Command } from 'commander';
import { registerBoardsCommands } from './boards.js';
import { registerCapabilityCommands } from './capability.js';
import { registerDaaCommands } from './daa.js';
import { registerDeviceCommands } from './device.js';
import { registerDiscoverCommand } from './discover.js';
import { registerEmulatorCommands } from './emulator.js';
import { registerExplainCommand } from './explain.js';
import { registerImageCommands } from './image.js';
import { registerKeysCommands } from './keys.js';
import { registerLeaseCommands } from './leases.js';
import { registerRecoveryCommands } from './recovery.js';
import { registerRigCommands } from './rig.js';
import { registerRunCommand } from './run.js';
import { registerRunsCommand } from './runs.js';
import { registerUpCommand } from './up.js';
import { registerWatchCommand } from './watch.js';

/** Every command group registers itself here: one file per group in this folder. */
export function registerCommands(program: Command): void {
  registerKeysCommands(program);
  registerImageCommands(program);
  registerCapabilityCommands(program);
  registerUpCommand(program);
  registerEmulatorCommands(program);
  registerDeviceCommands(program);
  registerRecoveryCommands(program);
  registerDaaCommands(program);
  registerExplainCommand(program);
  // The daemon's clients: run, scenarios, boards (before `boards discover` joins it), runs, watch, lease, release, cancel, token.
  registerRunCommand(program);
  registerRigCommands(program);
  registerBoardsCommands(program);
  registerRunsCommand(program);
  registerWatchCommand(program);
  registerLeaseCommands(program);
  registerDiscoverCommand(program);
}
