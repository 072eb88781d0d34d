/** Redis Cluster's hash slots. */
const SLOTS = 16_384;

/** CRC16-XMODEM (polynomial 0x1021, init 0), the checksum Redis Cluster hashes keys with. */
const TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

function crc16(bytes: ArrayLike<number>, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!) & 0xffff;
  return crc;
}

/** The part of a key Redis hashes: the first non-empty `{hash tag}`, or the whole key. */
function hashed(bytes: ArrayLike<number>): [number, number] {
  const open = Array.prototype.indexOf.call(bytes, 0x7b) as number;
  if (open >= 0) {
    const close = Array.prototype.indexOf.call(bytes, 0x7d, open + 1) as number;
    if (close > open + 1) return [open + 1, close];
  }
  return [0, bytes.length];
}

/**
 * The Redis Cluster hash slot of a key (CLUSTER KEYSLOT): CRC16 of its UTF-8 bytes — or of its `{hash tag}` — mod
 * 16384. The same algorithm ioredis routes commands with, so a key's slot tells which master serves it.
 * @example clusterSlot('{user1000}.following') === clusterSlot('{user1000}.followers')
 */
export function clusterSlot(key: string): number {
  // Keys are ASCII nearly always: hash the char codes without encoding.
  // eslint-disable-next-line no-control-regex
  const bytes: ArrayLike<number> = /^[\x00-\x7f]*$/.test(key) ? asciiCodes(key) : Buffer.from(key, 'utf8');
  const [from, to] = hashed(bytes);
  return crc16(bytes, from, to) % SLOTS;
}

function asciiCodes(key: string): ArrayLike<number> {
  const codes = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) codes[i] = key.charCodeAt(i);
  return codes;
}
