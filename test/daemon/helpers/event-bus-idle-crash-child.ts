// Publishes events, waits until the bus has written every one of them by itself,
// and dies by SIGKILL: a crash with nothing in flight, which must leave no gap.
import { EventBus } from '../../../src/daemon/event-bus.js';
import { topics } from '../../../src/daemon/daemon-event.js';
import { silentLogger } from './silent-logger.js';

const path = process.argv[2]!;
const bus = EventBus.open({ path, logger: silentLogger, flushIntervalMs: 1 });
for (let i = 0; i < 200; i++) bus.publish(topics.console('board-01'), 'console.line', { boardId: 'board-01', line: { seq: i, timestamp: Date.now(), text: `kept ${i}` } });
const written = setInterval(() => {
  if (bus.stats().unpersisted > 0) return;
  clearInterval(written);
  process.stdout.write(`${JSON.stringify({ handedOut: bus.lastSeq })}\n`, () => process.kill(process.pid, 'SIGKILL'));
}, 1);
