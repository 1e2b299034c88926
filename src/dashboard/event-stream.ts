import type { StreamEvent } from './api-types.js';

/**
 * The page's connection to the daemon's event stream (/api/v1/stream). It keeps
 * the last sequence number it handled and, whenever the socket drops (daemon
 * restart, network loss, overflow 4008), reconnects with `since` = that number,
 * so every event arrives exactly once and in order. It reports whether the page
 * is live, catching up (and by how many events) or offline.
 */
export type StreamPhase = 'connecting' | 'replaying' | 'live' | 'offline' | 'stopped';

export interface StreamStatus {
  phase: StreamPhase;
  lastSeq: number | null;
  /** Events the daemon had that the page has not handled yet (while replaying). */
  behind: number;
  /** How old the newest handled event was when it was handled. */
  lagMs: number;
  /** When the connection was lost (ms since the epoch), while offline. */
  offlineSince: number | null;
  /** When the next attempt is due, while offline. */
  retryAt: number | null;
  reason: string | null;
}

export interface EventStreamOptions {
  /** Topic patterns, e.g. `board:*`. */
  patterns: string[];
  token: () => string | null;
  onEvent: (event: StreamEvent) => void;
  onStatus: (status: StreamStatus) => void;
  /** A connection was (re)established: snapshots may be stale, reload them. */
  onConnected: (first: boolean) => void;
  /** Events were deleted before the page saw them: reload snapshots. */
  onMissed: () => void;
  /** Asked when an attempt fails before the socket opens: is the daemon down, or does it refuse the token? */
  probe: () => Promise<'ok' | 'unreachable' | 'refused'>;
}

const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];
/** A socket silent this long is checked: a dropped network may never close it. */
const SILENCE_CHECK_MS = 40_000;
const STATUS_INTERVAL_MS = 250;

export class EventStream {
  private socket: WebSocket | null = null;
  private lastSeq: number | null = null;
  private replayTarget = 0;
  private attempts = 0;
  private connectedOnce = false;
  private retryTimer: number | undefined;
  private watchdog: number | undefined;
  private lastMessageAt = 0;
  private statusTimer: number | undefined;
  private status: StreamStatus = { phase: 'connecting', lastSeq: null, behind: 0, lagMs: 0, offlineSince: null, retryAt: null, reason: null };

  constructor(private readonly options: EventStreamOptions) {}

  start(): void {
    window.addEventListener('online', this.retryNow);
    this.watchdog = window.setInterval(() => void this.checkSilence(), SILENCE_CHECK_MS / 4);
    this.connect();
  }

  stop(): void {
    window.removeEventListener('online', this.retryNow);
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.retryTimer);
    this.dropSocket();
    this.update({ phase: 'stopped', retryAt: null }, true);
  }

  /** Try now instead of waiting for the next scheduled attempt. */
  readonly retryNow = (): void => {
    if (this.status.phase !== 'offline') return;
    window.clearTimeout(this.retryTimer);
    this.connect();
  };

  private connect(): void {
    this.dropSocket();
    const params = new URLSearchParams({ subscribe: this.options.patterns.join(',') });
    if (this.lastSeq !== null) params.set('since', String(this.lastSeq));
    params.set('token', this.options.token() ?? '');
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/stream?${params.toString()}`);
    this.socket = socket;
    let opened = false;
    let resumeAtOnce = false;
    this.update({ phase: this.status.phase === 'offline' ? 'offline' : 'connecting', retryAt: null }, true);
    socket.onopen = () => {
      opened = true;
      this.lastMessageAt = Date.now();
    };
    socket.onmessage = (message) => {
      this.lastMessageAt = Date.now();
      if (this.handle(String(message.data)) === 'overflow') resumeAtOnce = true;
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (resumeAtOnce || event.code === 4008) {
        // Too slow for a moment: everything up to the resume point was handled, carry on.
        this.connect();
        return;
      }
      void this.lost(opened ? closeReason(event) : null);
    };
  }

  /** Handles one message; returns its control type, if it was one. */
  private handle(text: string): string | null {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (typeof message.seq === 'number' && typeof message.topic === 'string') {
      const event = message as unknown as StreamEvent;
      if (this.lastSeq !== null && event.seq <= this.lastSeq) return null;
      this.lastSeq = event.seq;
      try {
        this.options.onEvent(event);
      } catch (error) {
        console.error('event not handled', event.type, error);
      }
      const lagMs = Math.max(0, Date.now() - Date.parse(event.time));
      this.update({ lastSeq: event.seq, lagMs, behind: this.status.phase === 'replaying' ? Math.max(0, this.replayTarget - event.seq) : 0 });
      return null;
    }
    switch (message.type) {
      case 'subscribed': {
        const latest = Number(message.latestSeq);
        const first = !this.connectedOnce;
        this.connectedOnce = true;
        this.attempts = 0;
        if (this.lastSeq !== null && latest < this.lastSeq) {
          // A different event history (a new state folder): start over from its head.
          this.lastSeq = latest;
          this.socket?.send(JSON.stringify({ subscribe: this.options.patterns, since: latest }));
          this.options.onMissed();
        }
        if (this.lastSeq === null) this.lastSeq = latest;
        this.replayTarget = latest;
        const behind = Math.max(0, latest - this.lastSeq);
        this.update({ phase: behind > 0 ? 'replaying' : 'live', behind, lastSeq: this.lastSeq, offlineSince: null, retryAt: null, reason: null }, true);
        this.options.onConnected(first);
        return 'subscribed';
      }
      case 'live':
        this.update({ phase: 'live', behind: 0 }, true);
        return 'live';
      case 'missed':
        this.options.onMissed();
        return 'missed';
      case 'overflow':
        if (typeof message.resumeFrom === 'number') this.lastSeq = message.resumeFrom;
        this.update({ reason: 'the page fell behind; resuming' }, true);
        return 'overflow';
      case 'error':
        console.warn('stream refused a message', message);
        return 'error';
      default:
        return null;
    }
  }

  /** The socket closed (with `reason`) or never opened (null): say so, and try again later. */
  private async lost(reason: string | null): Promise<void> {
    if (this.status.phase === 'stopped') return;
    this.update({ phase: 'offline', reason: reason ?? this.status.reason, offlineSince: this.status.offlineSince ?? Date.now() }, true);
    if (reason === null) {
      const answer = await this.options.probe();
      if (answer === 'refused') {
        this.stop();
        return;
      }
      this.update({ reason: answer === 'unreachable' ? 'the daemon is not reachable' : 'the daemon did not accept the stream connection' }, true);
    }
    if ((this.status.phase as StreamPhase) === 'stopped') return;
    const base = RETRY_DELAYS_MS[Math.min(this.attempts, RETRY_DELAYS_MS.length - 1)]!;
    this.attempts += 1;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.update({ retryAt: Date.now() + delay }, true);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  /** A socket that stays open through a network loss hears nothing: check the daemon is still there. */
  private async checkSilence(): Promise<void> {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || Date.now() - this.lastMessageAt < SILENCE_CHECK_MS) return;
    try {
      const answer = await fetch('/api/v1/health', { cache: 'no-store', signal: AbortSignal.timeout(5000) });
      if (answer.ok) {
        this.lastMessageAt = Date.now();
        return;
      }
    } catch {
      // unreachable: fall through
    }
    this.dropSocket();
    void this.lost('the daemon stopped answering');
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close();
    } catch {
      // already closed
    }
  }

  /** Status changes reach the page at most every 250 ms, except phase changes, which go at once. */
  private update(change: Partial<StreamStatus>, now = false): void {
    this.status = { ...this.status, ...change };
    if (now) {
      window.clearTimeout(this.statusTimer);
      this.statusTimer = undefined;
      this.options.onStatus(this.status);
      return;
    }
    if (this.statusTimer !== undefined) return;
    this.statusTimer = window.setTimeout(() => {
      this.statusTimer = undefined;
      this.options.onStatus(this.status);
    }, STATUS_INTERVAL_MS);
  }
}

/** Why the socket closed, in words. */
function closeReason(event: CloseEvent): string {
  const words: Record<number, string> = { 1001: 'the daemon is stopping', 1006: 'the connection dropped', 1011: 'the daemon hit an error' };
  return `${words[event.code] ?? (event.reason || 'it closed')} (code ${event.code})`;
}
