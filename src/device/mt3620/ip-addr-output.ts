import { isServiceLinkAddress } from '../rest/device-link-address.js';

/**
 * SLIP links as `ip` reports them, from `ip -j addr show` (iproute2 4.14+) or,
 * on older hosts, `ip -o addr show`. A point-to-point address shows as
 * `"local": "192.168.35.1", "address": "192.168.35.2"` in JSON and as
 * `inet 192.168.35.1 peer 192.168.35.2/32` in one-line form; the peer is the
 * board. A link the rig brought up carries the alias `sphere-rig:<USB serial>`.
 */
export interface SlipLinkInfo {
  ifname: string;
  up: boolean;
  linkType: string | null;
  alias: string | null;
  /** Host side, normally 192.168.35.1. */
  hostAddress: string | null;
  /** The board's address: the peer, or .2 for Microsoft's /24 set-up without a peer. */
  deviceAddress: string | null;
  prefixLength: number | null;
}

export const RIG_ALIAS_PREFIX = 'sphere-rig:';

const SLIP_NAME = /^sl\d+$/;
const SLIP_TYPES = new Set(['slip', 'cslip', 'slip6', 'cslip6', 'adapt']);

interface IpJsonAddr {
  family?: string;
  local?: string;
  address?: string;
  prefixlen?: number;
}

interface IpJsonLink {
  ifname?: string;
  flags?: string[];
  link_type?: string;
  ifalias?: string;
  addr_info?: IpJsonAddr[];
}

function isSlip(ifname: string, linkType: string | null): boolean {
  return SLIP_NAME.test(ifname) || (linkType !== null && SLIP_TYPES.has(linkType));
}

/** The board's address on a link: its peer, or Microsoft's default .2 when the host has 192.168.35.1/24. */
function deviceAddressOf(host: string | null, peer: string | null, prefixLength: number | null): string | null {
  if (peer && peer !== host && isServiceLinkAddress(peer)) return peer;
  if (host === '192.168.35.1' && prefixLength !== null && prefixLength <= 24) return '192.168.35.2';
  return null;
}

export function parseIpJsonAddr(stdout: string): SlipLinkInfo[] {
  let links: IpJsonLink[];
  try {
    links = JSON.parse(stdout.trim() || '[]') as IpJsonLink[];
  } catch (error) {
    throw new Error(`ip -j addr: output is not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(links)) throw new Error('ip -j addr: output is not a JSON array');
  const out: SlipLinkInfo[] = [];
  for (const link of links) {
    const ifname = link.ifname ?? '';
    const linkType = link.link_type ?? null;
    if (!ifname || !isSlip(ifname, linkType)) continue;
    const inet = (link.addr_info ?? []).find((a) => a.family === 'inet' && a.local && isServiceLinkAddress(a.local)) ?? (link.addr_info ?? []).find((a) => a.family === 'inet');
    const hostAddress = inet?.local ?? null;
    const prefixLength = inet?.prefixlen ?? null;
    out.push({
      ifname,
      up: (link.flags ?? []).includes('UP'),
      linkType,
      alias: link.ifalias ?? null,
      hostAddress,
      deviceAddress: deviceAddressOf(hostAddress, inet?.address ?? null, prefixLength),
      prefixLength,
    });
  }
  return out;
}

const ONE_LINE_INET = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)(?:\s+peer\s+([\d.]+))?\/(\d+)/;

/**
 * `ip -o addr show` prints only addressed interfaces, and neither flags nor
 * aliases: a link found this way counts as up (it has an address) with no alias.
 */
export function parseIpOneLineAddr(stdout: string): SlipLinkInfo[] {
  const out: SlipLinkInfo[] = [];
  for (const line of stdout.split('\n')) {
    const match = ONE_LINE_INET.exec(line.trim());
    if (!match) continue;
    const [, ifname, local, peer, prefix] = match as unknown as [string, string, string, string | undefined, string];
    if (!isSlip(ifname, null)) continue;
    const prefixLength = Number(prefix);
    out.push({ ifname, up: true, linkType: null, alias: null, hostAddress: local, deviceAddress: deviceAddressOf(local, peer ?? null, prefixLength), prefixLength });
  }
  return out;
}

/** `ip -j link show`: just the SLIP interface names, to spot the one slattach just created. */
export function parseSlipInterfaceNames(stdout: string): string[] {
  const links = JSON.parse(stdout.trim() || '[]') as IpJsonLink[];
  return links.filter((l) => l.ifname && isSlip(l.ifname, l.link_type ?? null)).map((l) => l.ifname!);
}

/** The link serving a board: the one tagged with its serial; else, for a lone board, a lone untagged link (azsphere_connect.sh's). */
export function linkForBoard(links: readonly SlipLinkInfo[], usbSerial: string, loneBoard: boolean): SlipLinkInfo | undefined {
  const tagged = links.find((l) => l.alias === `${RIG_ALIAS_PREFIX}${usbSerial}`);
  if (tagged) return tagged;
  if (!loneBoard) return undefined;
  const untagged = links.filter((l) => !l.alias?.startsWith(RIG_ALIAS_PREFIX) && l.deviceAddress !== null && l.up);
  return untagged.length === 1 ? untagged[0] : undefined;
}
