// Development server: serves page/www from disk (no portal rebuild per edit) and proxies
// /t, /s and /show/* to a running portal.
// Usage: node test/tools/dev-server.mjs [listen-port] [portal-url]
import { createServer, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const www = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'www');
const port = Number(process.argv[2] || 8090);
const portal = new URL(process.argv[3] || 'http://127.0.0.1:8080/');
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.mp4': 'video/mp4' };

createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/t' || path === '/s' || path.startsWith('/show/')) {
    const up = request({ host: portal.hostname, port: portal.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
    return;
  }
  const file = normalize(join(www, path === '/' ? 'index.html' : path));
  if (!file.startsWith(www)) { res.writeHead(403); res.end(); return; }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
    res.end(body);
  } catch {
    res.writeHead(404); res.end();
  }
}).listen(port, '127.0.0.1', () => console.log(`dev server on http://127.0.0.1:${port}/ -> ${portal}`));
