/**
 * Where a flash device keeps its bytes. A backing is raw storage: it knows nothing
 * of erase rules, counting or power, which FlashDevice enforces above it.
 */
export interface FlashBacking {
  /** The bytes as the flash holds them (erased = 0xFF). */
  read(offset: number, length: number): Buffer;
  /** Overwrites bytes as given, whatever was there. */
  write(offset: number, data: Uint8Array): void;
  /** Sets a whole range back to 0xFF. */
  erase(offset: number, length: number): void;
  flush(): void;
  close(): void;
}
