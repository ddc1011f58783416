// Writes the keep-awake video: a 16×16 black H.264 (Constrained Baseline; an I_PCM macroblock
// then a skipped one, so no encoder is needed) in a fast-start MP4, two frames of 0.5 s. Deterministic: same bytes on
// every run. Played muted, inline and looping after the join tap where there is no Screen Wake
// Lock (captive sheets are not secure contexts), it keeps phones from dimming.
// Usage: node test/tools/make-video.mjs www/keepawake.mp4
import { writeFileSync } from 'node:fs';

/** Bit writer for H.264 RBSPs (u(n), ue(v), se(v)). */
class Bits {
  constructor() { this.bytes = []; this.cur = 0; this.n = 0; }
  u(n, v) { for (let i = n - 1; i >= 0; i--) this.bit((v >>> i) & 1); return this; }
  bit(b) { this.cur = (this.cur << 1) | b; if (++this.n === 8) { this.bytes.push(this.cur); this.cur = 0; this.n = 0; } return this; }
  ue(v) { const x = v + 1; const len = 32 - Math.clz32(x); this.u(len - 1, 0); return this.u(len, x); }
  se(v) { return this.ue(v <= 0 ? -2 * v : 2 * v - 1); }
  align0() { while (this.n) this.bit(0); return this; }
  trailing() { this.bit(1); return this.align0(); }
  out() { return this.bytes; }
}

/** NAL unit with emulation prevention. */
function nal(header, rbsp) {
  const out = [header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) { out.push(3); zeros = 0; }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

const sps = nal(0x67, new Bits()
  .u(8, 66).u(8, 0xc0).u(8, 10) // Constrained Baseline, level 1
  .ue(0) // seq_parameter_set_id
  .ue(0) // log2_max_frame_num_minus4
  .ue(2) // pic_order_cnt_type
  .ue(1) // max_num_ref_frames
  .u(1, 0) // gaps_in_frame_num_value_allowed_flag
  .ue(0).ue(0) // 1×1 macroblocks
  .u(1, 1).u(1, 1).u(1, 0).u(1, 0) // frame_mbs_only, direct_8x8, no cropping, no VUI
  .trailing().out());

const pps = nal(0x68, new Bits()
  .ue(0).ue(0) // pps id, sps id
  .u(1, 0).u(1, 0) // CAVLC, no bottom_field_pic_order
  .ue(0).ue(0).ue(0) // slice groups, ref idx l0/l1
  .u(1, 0).u(2, 0) // weighted pred
  .se(0).se(0).se(0) // qp, qs, chroma qp offset
  .u(1, 0).u(1, 0).u(1, 0) // deblocking control, constrained intra, redundant pic cnt
  .trailing().out());

/** One IDR picture: a single I_PCM macroblock of black (Y 16, Cb/Cr 128). */
function idr(idrPicId) {
  const b = new Bits()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type I (all)
    .ue(0) // pps id
    .u(4, 0) // frame_num
    .ue(idrPicId)
    .u(1, 0).u(1, 0) // dec_ref_pic_marking: no_output_of_prior_pics, long_term_reference
    .se(0) // slice_qp_delta
    .ue(25) // mb_type I_PCM
    .align0();
  for (let i = 0; i < 256; i++) b.u(8, 16);
  for (let i = 0; i < 128; i++) b.u(8, 128);
  return nal(0x65, b.trailing().out());
}

/** A non-reference P picture whose only macroblock is skipped (repeats the IDR). */
function skip() {
  const b = new Bits()
    .ue(0) // first_mb_in_slice
    .ue(5) // slice_type P (all)
    .ue(0) // pps id
    .u(4, 1) // frame_num
    .u(1, 0) // num_ref_idx_active_override_flag
    .u(1, 0) // ref_pic_list_modification_flag_l0
    .se(0) // slice_qp_delta
    .ue(1); // mb_skip_run: the one macroblock
  return nal(0x01, b.trailing().out());
}

const u32 = (v) => { const x = Buffer.alloc(4); x.writeUInt32BE(v >>> 0); return x; };
const u16 = (v) => { const x = Buffer.alloc(2); x.writeUInt16BE(v); return x; };
const zeros = (n) => Buffer.alloc(n);
const box = (type, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
};
const full = (type, version, flags, ...parts) => box(type, Buffer.from([version, flags >> 16, (flags >> 8) & 255, flags & 255]), ...parts);
const MATRIX = Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32));

const FRAME_MS = 500;
const samples = [idr(0), skip()].map((n) => Buffer.concat([u32(n.length), n]));
const duration = FRAME_MS * samples.length;
const W = 16;
const H = 16;

function moov(chunkOffset) {
  const avcC = box('avcC', Buffer.from([1, 66, 0xc0, 10, 0xff, 0xe1]), u16(sps.length), sps, Buffer.from([1]), u16(pps.length), pps);
  const avc1 = box('avc1', zeros(6), u16(1), zeros(16), u16(W), u16(H), u32(0x00480000), u32(0x00480000),
    u32(0), u16(1), zeros(32), u16(0x18), u16(0xffff), avcC);
  const stbl = box('stbl',
    full('stsd', 0, 0, u32(1), avc1),
    full('stts', 0, 0, u32(1), u32(samples.length), u32(FRAME_MS)),
    full('stss', 0, 0, u32(1), u32(1)),
    full('stsc', 0, 0, u32(1), u32(1), u32(samples.length), u32(1)),
    full('stsz', 0, 0, u32(0), u32(samples.length), ...samples.map((s) => u32(s.length))),
    full('stco', 0, 0, u32(1), u32(chunkOffset)));
  const minf = box('minf', full('vmhd', 0, 1, zeros(8)), box('dinf', full('dref', 0, 0, u32(1), full('url ', 0, 1))), stbl);
  const mdia = box('mdia',
    full('mdhd', 0, 0, u32(0), u32(0), u32(1000), u32(duration), u16(0x55c4), u16(0)),
    full('hdlr', 0, 0, u32(0), Buffer.from('vide'), zeros(12), Buffer.from('VideoHandler\0')),
    minf);
  const tkhd = full('tkhd', 0, 3, u32(0), u32(0), u32(1), u32(0), u32(duration), zeros(8), u16(0), u16(0), u16(0), u16(0),
    MATRIX, u32(W << 16), u32(H << 16));
  const mvhd = full('mvhd', 0, 0, u32(0), u32(0), u32(1000), u32(duration), u32(0x00010000), u16(0x0100), zeros(10),
    MATRIX, zeros(24), u32(2));
  return box('moov', mvhd, box('trak', tkhd, mdia));
}

const ftyp = box('ftyp', Buffer.from('isom'), u32(0x200), Buffer.from('isomiso2avc1mp41'));
const mdatHeader = 8;
const offset = ftyp.length + moov(0).length + mdatHeader;
const file = Buffer.concat([ftyp, moov(offset), box('mdat', ...samples)]);

const out = process.argv[2];
if (out) writeFileSync(out, file);
else process.stdout.write(file);
console.error(`keep-awake video: ${file.length} bytes`);
