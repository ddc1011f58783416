// Benchmark peer: WebSocket broadcast with Node's `ws` (the design the seed documents recommend).
// Each client gets the current state on connect, every new state when it is posted to the control
// address, and a ping every --ping-s seconds (the heartbeat from the ws README; dead peers are
// terminated).
//
// usage: node ws-server.mjs --listen 127.0.0.1:9201 --control 127.0.0.1:9202 [--ping-s 30]
import { WebSocketServer } from 'ws';
import { parseArgs, splitAddr, controlServer, onSignals } from './common.mjs';

const args = parseArgs(process.argv.slice(2), { listen: '127.0.0.1:9201', control: '127.0.0.1:9202', pingS: 30 });
const { host, port } = splitAddr(args.listen);
let current = '{"state":"stopped","cue":null}';

const wss = new WebSocketServer({ host, port, backlog: 4096, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  ws.on('error', () => {});
  ws.send(current);
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, args.pingS * 1000);

const ctl = controlServer(args.control, (state) => {
  current = state;
  for (const ws of wss.clients) if (ws.readyState === 1) ws.send(state);
});

onSignals(() => { clearInterval(heartbeat); ctl.close(); wss.close(); });
console.error(`ws-server: ws on ${args.listen}, control on ${args.control}`);
