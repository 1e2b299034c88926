/**
 * The byte layout of the Azure Sphere device log (../shared/spec/device-log-format.md
 * sections 2 and 3), as Microsoft's parse-devicelog.py reads it: a ring of
 * 4096-byte banks (a NOR erase sector each), entries packed from bank offset 0,
 * a u16 counter and a u16 status at the end of every bank; all little-endian;
 * 0xFF (erased flash) marks what was never written.
 */
export const BANK_SIZE = 4096;
/** Entries live in bank offsets [0, 4092); the footer follows. */
export const ENTRY_AREA_SIZE = 4092;
export const COUNTER_OFFSET = 4092;
export const STATUS_OFFSET = 4094;
export const ENTRY_HEADER_SIZE = 12;
/** The parser starts no entry at a bank offset above this (4096 - 12 - 4 - 1): it moves to the next bank. */
export const LAST_ENTRY_START = BANK_SIZE - ENTRY_HEADER_SIZE - 4 - 1;
/** A u16 that reads as erased flash: no counter (bank never started), or no entry (the rest of the bank is free). */
export const ERASED_U16 = 0xffff;
/** The largest counter a writer may give a bank: 0xFFFF means "not started". */
export const MAX_COUNTER = 0xfffe;

/** Entry header fields, by offset inside the entry. */
export const ENTRY = {
  length: 0,
  /** Ignored by the parser; written 0. */
  reserved: 2,
  priority: 3,
  category: 4,
  message: 6,
  timestamp: 8,
} as const;

/** Whether an entry of `length` bytes may start at bank offset `offset` (it must neither start past 4079 nor reach the footer). */
export function entryFitsAt(offset: number, length: number): boolean {
  return offset <= LAST_ENTRY_START && offset + length <= ENTRY_AREA_SIZE;
}
