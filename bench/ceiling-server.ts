// The ceiling servers, run as child processes so they cost what a server costs:
//   http PORT FILE MEDIATYPE DIGEST  a bare Node http server answering every GET/HEAD with FILE's
//                                    bytes from memory (the framework ceiling for manifest GETs)
//   tcp PORT SIZE                    writes SIZE bytes from memory to each connection, then closes
//                                    (the loopback ceiling for blob pulls)
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const [mode, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'http') {
  const [file, mediaType, digest] = rest;
  const bytes = readFileSync(file);
  const server = http.createServer((req, res) => {
    res.writeHead(200, {
      'Content-Type': mediaType,
      'Content-Length': bytes.length,
      'Docker-Content-Digest': digest,
      'Docker-Distribution-API-Version': 'registry/2.0',
      ETag: `"${digest}"`,
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, '127.0.0.1');
} else if (mode === 'tcp') {
  const payload = Buffer.alloc(Number(rest[0]), 0x5a);
  net
    .createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(payload);
    })
    .listen(port, '127.0.0.1');
} else {
  process.stderr.write('usage: ceiling-server http PORT FILE MEDIATYPE DIGEST | tcp PORT SIZE\n');
  process.exit(2);
}
