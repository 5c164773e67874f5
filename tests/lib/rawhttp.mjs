// rawhttp.mjs: sends exact bytes to an HTTP server and parses what comes back.
// fetch() normalises URLs (dot segments, percent-encoding, methods), which is
// exactly what hostile-input tests must not do.
import net from 'node:net';

function decodeChunked(buf) {
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

// Resolves with { status, headers (lower-case names), headerList, body: Buffer, text } once
// the server closes the connection. `request` is a string (sent as latin1, so
// each char is one byte) or a Buffer.
export function rawRequest(port, request, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request));
    socket.on('data', (d) => chunks.push(d));
    // A server may close while a large request is still being written.
    socket.on('error', (err) => { if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err); });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      if (split < 0) {
        resolve({ status: 0, headers: {}, headerList: [], body: raw, text: raw.toString('latin1') });
        return;
      }
      const lines = raw.subarray(0, split).toString('latin1').split('\r\n');
      const status = Number((lines[0].match(/^HTTP\/\d\.\d (\d{3})/) || [])[1] || 0);
      const headers = {};
      const headerList = []; // every header line in order, repeats included
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        headers[name] = line.slice(colon + 1).trim();
        headerList.push([name, headers[name]]);
      }
      let body = raw.subarray(split + 4);
      if (/chunked/i.test(headers['transfer-encoding'] || '')) body = decodeChunked(body);
      resolve({ status, headers, headerList, body, text: body.toString('utf8') });
    });
  });
}

// A GET (or other method) for `target`, closing the connection after the answer.
export function request(port, target, { method = 'GET', headers = {}, body = '', version = 'HTTP/1.1' } = {}) {
  const lines = [`${method} ${target} ${version}`, 'Host: localhost', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return rawRequest(port, `${lines.join('\r\n')}\r\n\r\n${body}`);
}
