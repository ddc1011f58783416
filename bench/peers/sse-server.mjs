// Benchmark peer: Server-Sent Events broadcast on Node's http module. GET /events opens the
// stream: the current state as the first event, every new state when it is posted to the control
// address, and a comment line every --ping-s seconds (the usual keep-alive through proxies).
//
// usage: node sse-server.mjs --listen 127.0.0.1:9301 --control 127.0.0.1:9302 [--ping-s 15]
import http from 'node:http';
import { parseArgs, splitAddr, controlServer, onSignals } from './common.mjs';

const args = parseArgs(process.argv.slice(2), { listen: '127.0.0.1:9301', control: '127.0.0.1:9302', pingS: 15 });
const { host, port } = splitAddr(args.listen);
let current = '{"state":"stopped","cue":null}';
const clients = new Set();

const srv = http.createServer((req, res) => {
  if (req.method !== 'GET' || req.url !== '/events') {
    res.writeHead(404, { 'Content-Length': 0 }).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
  res.write(`data: ${current}\n\n`);
  clients.add(res);
  req.on('close', () => clients.delete(res));
});
srv.requestTimeout = 0;
srv.keepAliveTimeout = 0;
srv.listen({ port, host, backlog: 4096 });

const heartbeat = setInterval(() => {
  for (const res of clients) res.write(': ping\n\n');
}, args.pingS * 1000);

const ctl = controlServer(args.control, (state) => {
  current = state;
  const event = `data: ${state}\n\n`;
  for (const res of clients) res.write(event);
});

onSignals(() => { clearInterval(heartbeat); ctl.close(); srv.close(); });
console.error(`sse-server: events on http://${args.listen}/events, control on ${args.control}`);
