// An E1.31 (sACN) data packet as a lighting console sends it: root, framing and DMP layers,
// start code 0, universe `universe`. Used by the page's desk test and bench/tools/desk-fader.mjs
// (the beacon's own parser is tested in Rust: beacon/src/desk/sacn.rs).

/**
 * @param {number[]} slots DMX levels from address 1 on (up to 512)
 * @param {{seq: number, cid?: number, name?: string, priority?: number, terminated?: boolean, universe?: number}} o
 *   `seq` the sequence number (0-255), `cid` the byte the 16-byte CID is filled with
 */
export function sacnPacket(slots, { seq, cid = 7, name = 'test desk', priority = 100, terminated = false, universe = 1 }) {
  const n = slots.length;
  const buf = Buffer.alloc(126 + n);
  buf.writeUInt16BE(0x0010, 0);
  buf.write('ASC-E1.17\0\0\0', 4, 'latin1');
  buf.writeUInt16BE(0x7000 | (buf.length - 16), 16);
  buf.writeUInt32BE(4, 18);
  buf.fill(cid, 22, 38);
  buf.writeUInt16BE(0x7000 | (buf.length - 38), 38);
  buf.writeUInt32BE(2, 40);
  buf.write(name, 44, 'latin1');
  buf[108] = priority;
  buf[111] = seq & 0xff;
  buf[112] = terminated ? 0x40 : 0;
  buf.writeUInt16BE(universe, 113);
  buf.writeUInt16BE(0x7000 | (buf.length - 115), 115);
  buf[117] = 0x02;
  buf[118] = 0xa1;
  buf.writeUInt16BE(1, 121);
  buf.writeUInt16BE(n + 1, 123);
  Buffer.from(slots).copy(buf, 126);
  return buf;
}
