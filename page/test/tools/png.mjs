// Minimal PNG decoder for screenshots (8-bit greyscale/RGB/RGBA, non-interlaced): enough to read
// the colour the screen shows.
import { inflateSync } from 'node:zlib';

export class Png {
  constructor(width, height, channels, data) {
    Object.assign(this, { width, height, channels, data });
  }

  /** @param {Buffer} buf */
  static decode(buf) {
    if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
    let pos = 8;
    let width = 0, height = 0, depth = 0, type = 0, interlace = 0;
    const idat = [];
    while (pos < buf.length) {
      const len = buf.readUInt32BE(pos);
      const kind = buf.toString('latin1', pos + 4, pos + 8);
      const body = buf.subarray(pos + 8, pos + 8 + len);
      if (kind === 'IHDR') {
        width = body.readUInt32BE(0); height = body.readUInt32BE(4);
        depth = body[8]; type = body[9]; interlace = body[12];
      } else if (kind === 'IDAT') idat.push(body);
      else if (kind === 'IEND') break;
      pos += 12 + len;
    }
    const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[type];
    if (depth !== 8 || !channels || interlace) throw new Error(`unsupported PNG (depth ${depth}, type ${type}, interlace ${interlace})`);
    const raw = inflateSync(Buffer.concat(idat));
    const stride = width * channels;
    const out = Buffer.alloc(stride * height);
    for (let y = 0; y < height; y++) {
      const f = raw[y * (stride + 1)];
      const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
      for (let x = 0; x < stride; x++) {
        const a = x >= channels ? out[y * stride + x - channels] : 0;
        const b = y > 0 ? out[(y - 1) * stride + x] : 0;
        const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
        let v = line[x];
        if (f === 1) v += a;
        else if (f === 2) v += b;
        else if (f === 3) v += (a + b) >> 1;
        else if (f === 4) {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        out[y * stride + x] = v & 255;
      }
    }
    return new Png(width, height, channels, out);
  }

  /** [r, g, b] at (x, y). */
  pixel(x, y) {
    const i = (y * this.width + x) * this.channels;
    const d = this.data;
    return this.channels >= 3 ? [d[i], d[i + 1], d[i + 2]] : [d[i], d[i], d[i]];
  }
}
