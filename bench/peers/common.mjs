// Shared bits of the Node benchmark peers: argument parsing and the control server.
// The control server takes any HTTP POST; its body is the new state, handed to `onState`.
import http from 'node:http';

export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults) || argv[i + 1] === undefined) {
      console.error(`unknown or incomplete argument ${argv[i]}; known: ${Object.keys(defaults).join(', ')}`);
      process.exit(2);
    }
    out[key] = typeof defaults[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return out;
}

export function splitAddr(addr) {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

export function controlServer(addr, onState) {
  const { host, port } = splitAddr(addr);
  const srv = http.createServer((req, res) => {
    const parts = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) req.destroy();
      else parts.push(c);
    });
    req.on('end', () => {
      onState(Buffer.concat(parts).toString('utf8'));
      res.writeHead(204, { 'Content-Length': 0, Connection: 'close' }).end();
    });
  });
  srv.listen(port, host);
  return srv;
}

export function onSignals(stop) {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stop(); process.exit(0); });
}
