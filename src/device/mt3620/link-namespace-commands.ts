import { RIG_ALIAS_PREFIX } from './ip-addr-output.js';
import { privileged, SERVICE_LINK_DEVICE_ADDRESS, SERVICE_LINK_HOST_ADDRESS, type CommandLine, type LinkCommandSettings } from './slip-link-commands.js';

/**
 * One network namespace per real board's service link (iproute2's named
 * namespaces, /run/netns/<name>). SLIP carries no addressing and every board
 * takes 192.168.35.2 for itself, so two boards cannot share the host's
 * namespace; in a namespace of its own each link is host .1, device .2, and
 * any number of boards work. Pure builders, so the command lines are tested.
 *
 * Privileges: `ip netns add/del/exec` and `ip -n` need CAP_SYS_ADMIN, link
 * changes CAP_NET_ADMIN; in sudo mode these run as `sudo -n ...`.
 */
export const LINK_NAMESPACE_PREFIX = 'sphere-rig-';
/** The device REST API on the link. */
export const DEVICE_REST_PORT = 443;
/** A debugged high-level app's output port on the link (next to gdbserver on 2345). */
export const DEVICE_APP_OUTPUT_PORT = 2342;

/** The namespace of a board's link: `sphere-rig-<USB serial>`, with anything outside [A-Za-z0-9_.-] made `_`. */
export function namespaceFor(usbSerial: string): string {
  return `${LINK_NAMESPACE_PREFIX}${usbSerial.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export function isRigNamespace(name: string): boolean {
  return name.startsWith(LINK_NAMESPACE_PREFIX);
}

const ip = (settings: LinkCommandSettings): string => settings.ip ?? 'ip';

/** Read-only: the names in /run/netns. */
export function listNamespacesCommand(settings: LinkCommandSettings = {}): CommandLine {
  return { file: ip(settings), args: ['-j', 'netns', 'list'] };
}

/** `ip -j netns list` prints `[{"name":"x","id":0}]`, or nothing at all when there are none; old iproute2 prints `x (id: 0)` lines. */
export function parseNamespaceList(stdout: string): string[] {
  const text = stdout.trim();
  if (!text) return [];
  if (text.startsWith('[')) return (JSON.parse(text) as Array<{ name?: string }>).map((n) => n.name ?? '').filter(Boolean);
  return text.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

export function addNamespaceCommand(namespace: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['netns', 'add', namespace]);
}

export function deleteNamespaceCommand(namespace: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['netns', 'del', namespace]);
}

/** The processes inside a namespace (a crashed daemon's slattach and forwarder). */
export function namespacePidsCommand(namespace: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['netns', 'pids', namespace]);
}

export function terminateCommand(pid: number, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, settings.kill ?? 'kill', ['-TERM', String(pid)]);
}

/** slattach inside the board's namespace, so `ip netns pids` finds it after a crash. */
export function slattachInNamespaceCommand(namespace: string, tty: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['netns', 'exec', namespace, settings.slattach ?? 'slattach', '-m', '-p', 'slip', tty]);
}

export function listLinksInNamespaceCommand(namespace: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['-n', namespace, '-j', 'link', 'show']);
}

export function listAddressesInNamespaceCommand(namespace: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['-n', namespace, '-j', 'addr', 'show']);
}

/** The SLIP driver may create slN in the host's namespace whoever attached it: then it is moved in. */
export function moveLinkCommand(ifname: string, namespace: string, settings: LinkCommandSettings = {}): CommandLine {
  return privileged(settings, ip(settings), ['link', 'set', 'dev', ifname, 'netns', namespace]);
}

/** Inside the namespace: loopback up; host .1, device .2 point-to-point; the tag; the link up. */
export function addressNamespacedLinkCommands(namespace: string, ifname: string, usbSerial: string, settings: LinkCommandSettings = {}): CommandLine[] {
  const inNs = (args: string[]): CommandLine => privileged(settings, ip(settings), ['-n', namespace, ...args]);
  return [
    inNs(['link', 'set', 'dev', 'lo', 'up']),
    inNs(['addr', 'add', SERVICE_LINK_HOST_ADDRESS, 'peer', `${SERVICE_LINK_DEVICE_ADDRESS}/32`, 'dev', ifname]),
    inNs(['link', 'set', 'dev', ifname, 'alias', `${RIG_ALIAS_PREFIX}${usbSerial}`]),
    inNs(['link', 'set', 'dev', ifname, 'up']),
  ];
}

export interface ForwarderProgram {
  /** The program and its leading arguments, e.g. [process.execPath, '/…/namespace-forwarder-main.js']. */
  command: string[];
  /** Who owns the socket and whom the forwarder runs as once it listens (the rig's own user). */
  uid: number;
  gid: number;
}

/**
 * The forwarder inside the namespace: it listens on a Unix socket (a path in
 * the file system, which every namespace sees) and connects each client to
 * the board's REST API, 192.168.35.2:443, on the namespace's link.
 */
export function forwarderCommand(namespace: string, socketPath: string, program: ForwarderProgram, settings: LinkCommandSettings = {}, port = DEVICE_REST_PORT): CommandLine {
  const [file, ...leading] = program.command;
  return privileged(settings, ip(settings), [
    'netns',
    'exec',
    namespace,
    file!,
    ...leading,
    '--listen',
    socketPath,
    '--connect',
    `${SERVICE_LINK_DEVICE_ADDRESS}:${port}`,
    '--uid',
    String(program.uid),
    '--gid',
    String(program.gid),
  ]);
}
