import type { ByteReader } from './byte-channel.js';
import { Deadline, type WaitOptions } from './deadline.js';
import { LinkOverflowError, LinkTimeoutError } from './link-errors.js';
import { FRAME_DELIMITER, type DecodedMessage, type FrameDecoder } from './recovery-frame.js';

/**
 * Reads the next good message from a channel, one frame at a time: it takes bytes
 * only up to and including each frame's 0x00, so whatever follows the message (an
 * XMODEM transfer, the next frame) stays in the channel for the next handler.
 * Bad frames go through `decoder` like any others: counted, emitted as 'dropped',
 * skipped. An over-long run without a delimiter is fed to the decoder in pieces
 * so its bound applies and memory stays bounded.
 * The timeout covers the whole wait, dropped frames included.
 */
export async function readFrameMessage(
  reader: ByteReader,
  decoder: FrameDecoder,
  options: WaitOptions,
): Promise<DecodedMessage> {
  const deadline = new Deadline(options.timeoutMs);
  const limit = decoder.maxFrameBytes + 1;
  for (;;) {
    let bytes: Buffer;
    try {
      bytes = await reader.readUntil(FRAME_DELIMITER, {
        timeoutMs: deadline.remainingMs(),
        signal: options.signal,
        maxBytes: limit,
      });
    } catch (error) {
      if (error instanceof LinkOverflowError) {
        bytes = reader.take(limit);
      } else if (error instanceof LinkTimeoutError) {
        throw new LinkTimeoutError('waiting for a recovery frame', options.timeoutMs, {
          droppedFrames: decoder.framesDropped,
        });
      } else {
        throw error;
      }
    }
    const [message] = decoder.push(bytes);
    if (message) return message;
  }
}
