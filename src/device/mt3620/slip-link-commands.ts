/**
 * The host commands that bring up a board's service link, the way Microsoft's
 * Linux SDK does it (azsphere_connect.sh): SLIP on interface C's tty at
 * 921600 baud with RTS/CTS, host 192.168.35.1, board 192.168.35.2. With
 * several boards each link lives in its own network namespace
 * (link-namespace-commands.ts). Pure builders, so the exact command lines are
 * under test.
 *
 * Stock slattach (net-tools) knows no speed above 115200, which is why
 * Microsoft ships its own azsphere_slattach. Instead the line is set up with
 * stty first (921600, raw 8N1, crtscts, clocal) and slattach is told to leave
 * it as it is (-m, and no -s): it only switches the line discipline to SLIP,
 * creating slN. Attaching SLIP and addressing slN need CAP_NET_ADMIN.
 */
export const SERVICE_LINK_BAUD = 921600;
export const SERVICE_LINK_HOST_ADDRESS = '192.168.35.1';
/** The device picks its own address on the link (SLIP carries none); the captured one is .2, for every board. */
export const SERVICE_LINK_DEVICE_ADDRESS = '192.168.35.2';

export interface CommandLine {
  file: string;
  args: string[];
}

export interface LinkCommandSettings {
  stty?: string;
  slattach?: string;
  ip?: string;
  kill?: string;
  /** Run slattach, the ip changes and namespace commands through `sudo -n` (a sudoers rule instead of capabilities). */
  sudo?: boolean;
}

export function privileged(settings: LinkCommandSettings, file: string, args: string[]): CommandLine {
  return settings.sudo ? { file: 'sudo', args: ['-n', file, ...args] } : { file, args };
}

export function configureLineCommand(tty: string, settings: LinkCommandSettings = {}): CommandLine {
  return { file: settings.stty ?? 'stty', args: ['-F', tty, String(SERVICE_LINK_BAUD), 'raw', '-echo', 'cs8', '-cstopb', '-parenb', 'crtscts', 'clocal'] };
}

export function slattachCommand(tty: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, settings.slattach ?? 'slattach', ['-m', '-p', 'slip', tty]);
}

export function listLinksCommand(settings: LinkCommandSettings = {}): CommandLine {
  return { file: settings.ip ?? 'ip', args: ['-j', 'link', 'show'] };
}

export function listAddressesCommand(settings: LinkCommandSettings = {}): CommandLine {
  return { file: settings.ip ?? 'ip', args: ['-j', 'addr', 'show'] };
}

/** For iproute2 without JSON output. */
export function listAddressesOneLineCommand(settings: LinkCommandSettings = {}): CommandLine {
  return { file: settings.ip ?? 'ip', args: ['-o', '-4', 'addr', 'show'] };
}
