/**
 * Progress notes of long steps, e.g. "recovering: 3 of 10 images to go" or
 * "checked 12 of 40 cut points": the fraction done, when a note says one.
 */
export interface StepProgress {
  done: number;
  total: number;
  /** 0..1 */
  fraction: number;
}

export function progressOf(message: string | null | undefined): StepProgress | null {
  if (!message) return null;
  const match = /(\d+)\s+of\s+(\d+)\s+([\w -]*?)(?:\s+to go)?\b/i.exec(message);
  if (!match) return null;
  const count = Number(match[1]);
  const total = Number(match[2]);
  if (!Number.isFinite(count) || !Number.isFinite(total) || total <= 0 || count > total) return null;
  // "N of M ... to go" counts what remains; anything else counts what is done.
  const remaining = /to go/i.test(message.slice(match.index));
  const done = remaining ? total - count : count;
  return { done, total, fraction: done / total };
}
