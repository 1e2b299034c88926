import type { Command } from 'commander';
import { registerCapabilityCommands } from './capability.js';
import { registerDaaCommands } from './daa.js';
import { registerDeviceCommands } from './device.js';
import { registerDiscoverCommand } from './discover.js';
import { registerEmulatorCommands } from './emulator.js';
import { registerImageCommands } from './image.js';
import { registerKeysCommands } from './keys.js';
import { registerRecoveryCommands } from './recovery.js';
import { registerRigCommands } from './rig.js';
import { registerUpCommand } from './up.js';

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
  registerRigCommands(program);
  registerDiscoverCommand(program);
}
