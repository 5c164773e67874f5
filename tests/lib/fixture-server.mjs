// fixture-server.mjs: serves www/ with the headers nginx sends and answers
// /api/ from canned responses a test sets, so browser tests can produce states
// the real stack reaches only rarely (network errors, 503, odd bodies).
import http from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { TOP } from './stack.mjs';

const WWW = path.join(TOP, 'www');
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'application/javascript' };

// routes: { '/api/healthz': (url) => ({ status, body }) | { destroy: true } }
// pages: extra static pages by path ({ '/bare.html': '<!DOCTYPE html>...' }).
export async function startFixtureServer(routes = {}, pages = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://fixture');
    requests.push({ path: url.pathname, query: url.search, at: Date.now() });
    if (url.pathname.startsWith('/api/')) {
      const route = routes[url.pathname];
      const answer = route ? route(url) : { status: 404, body: { error: 'no such endpoint' } };
      if (answer.destroy) {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
      return;
    }
    const headers = {
      'Content-Security-Policy': "default-src 'self'",
      'X-Content-Type-Options': 'nosniff',
    };
    if (pages[url.pathname] !== undefined) {
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html'] });
      res.end(pages[url.pathname]);
      return;
    }
    let file = path.join(WWW, path.normalize(url.pathname));
    if (file.endsWith('/')) file = path.join(file, 'index.html');
    if (!file.startsWith(WWW) || !existsSync(file) || !statSync(file).isFile() || file.endsWith('.mk')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    routes,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
