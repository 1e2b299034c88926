// Publishes events, lets some reach the disk, publishes more and dies by SIGKILL
// before they can be written: the parent checks what survives and that sequence
// numbers handed out before the crash are never reused.
import { EventBus } from '../../../src/daemon/event-bus.js';
import { topics } from '../../../src/daemon/daemon-event.js';
import { silentLogger } from './silent-logger.js';

const path = process.argv[2]!;
const bus = EventBus.open({ path, logger: silentLogger, flushIntervalMs: 60_000 });
for (let i = 0; i < 500; i++) bus.publish(topics.console('board-01'), 'console.line', { boardId: 'board-01', line: { seq: i, timestamp: Date.now(), text: `before ${i}` } });
bus.flush();
const persisted = bus.lastSeq;
for (let i = 0; i < 300; i++) bus.publish(topics.console('board-01'), 'console.line', { boardId: 'board-01', line: { seq: i, timestamp: Date.now(), text: `lost ${i}` } });
process.stdout.write(`${JSON.stringify({ persisted, handedOut: bus.lastSeq })}\n`, () => process.kill(process.pid, 'SIGKILL'));
