// A scripted lighting desk for bench/desk: sends E1.31 (sACN) data packets for universe 1 at
// 44 Hz to the beacon, as a console refreshes its output.
//   phase 1 (until --fade-until-us): zone "stalls-left" (addresses 10-12) fades continuously,
//     red ramping 1 → 255 and back every 10 s (every frame a new value);
//   phase 2 (until --step-at-us): the desk holds the last colour (quiet);
//   phase 3 (from --step-at-us until --end-us): a step to green (#00ff00), the colour the load
//     generator times (`loadgen --live stalls-left=#00ff00`).
// usage: node desk-fader.mjs --port P --fade-until-us T1 --step-at-us T2 --end-us T3
import { createSocket } from 'node:dgram';
import { sacnPacket } from '../../page/test/tools/sacn.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (i % 2 ? a : [...a, [x.replace(/^--/, ''), all[i + 1]]]), []));
const port = Number(args.port);
const [fadeUntil, stepAt, end] = ['fade-until-us', 'step-at-us', 'end-us'].map((k) => Number(args[k]) / 1000);
const udp = createSocket('udp4');
let seq = 0;
let frames = 0;

function packet(slots) {
  seq = (seq + 1) & 0xff;
  return sacnPacket(slots, { seq, cid: 0x5a, name: 'bench desk' });
}

let last = [1, 0, 0];
/** When the first step frame was sent (µs since the epoch): the benchmark's t0 for the desk. */
let stepSentUs = null;
const timer = setInterval(() => {
  const t = Date.now();
  if (t >= end) {
    clearInterval(timer);
    udp.close();
    console.log(JSON.stringify({ frames, step_sent_us: stepSentUs }));
    return;
  }
  if (t < fadeUntil) {
    const phase = (t % 10000) / 10000;
    const r = 1 + Math.round(254 * (phase < 0.5 ? phase * 2 : 2 - phase * 2));
    last = [r, 0, 0];
  } else if (t >= stepAt) {
    last = [0, 255, 0];
  }
  const step = t >= stepAt && stepSentUs === null;
  const slots = new Array(12).fill(0);
  slots.splice(9, 3, ...last);
  udp.send(packet(slots), port, '127.0.0.1');
  if (step) stepSentUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
  frames++;
}, 1000 / 44);
