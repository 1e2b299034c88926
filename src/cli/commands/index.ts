import type { Command } from 'commander';
import { registerCapabilityCommands } from './capability.js';
import { registerEmulatorCommands } from './emulator.js';
import { registerImageCommands } from './image.js';
import { registerKeysCommands } from './keys.js';
import { registerUpCommand } from './up.js';

/** Every command group registers itself here: one file per group in this folder. */
export function registerCommands(program: Command): void {
  registerKeysCommands(program);
  registerImageCommands(program);
  registerCapabilityCommands(program);
  registerUpCommand(program);
  registerEmulatorCommands(program);
}
