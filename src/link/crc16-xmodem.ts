/**
 * CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no final XOR.
 * Used both by XMODEM-CRC packets (big-endian on the wire) and by recovery frames
 * (little-endian on the wire). Check value: "123456789" -> 0x31c3.
 */

export const CRC16_XMODEM_INITIAL = 0x0000;

const TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[byte] = crc;
  }
  return table;
})();

/**
 * The CRC of `data`, continuing from `crc` (the result of an earlier call), so a
 * message may be checksummed piece by piece: crc16Xmodem(b, crc16Xmodem(a)) equals
 * crc16Xmodem(a ++ b).
 */
export function crc16Xmodem(data: Uint8Array, crc: number = CRC16_XMODEM_INITIAL): number {
  let value = crc & 0xffff;
  for (let i = 0; i < data.length; i += 1) {
    value = ((value << 8) & 0xffff) ^ TABLE[((value >>> 8) ^ data[i]) & 0xff];
  }
  return value;
}
