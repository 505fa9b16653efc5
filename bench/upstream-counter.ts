// What a pull-through proxy fetches from its upstream: a small HTTP relay in front of the upstream
// registry that forwards every request unchanged and counts, per request, the response body bytes
// it relayed. The proxies under test are configured with the relay's address as their remoteurl,
// so the counts are exactly the upstream traffic each proxy caused (headers not included).
// With a latency, every request is held that long before it is forwarded: one round trip to an
// upstream that is not on this machine (Docker Hub is tens of milliseconds away from most sites),
// paid per request on a connection that is already open.
import http from 'node:http';
import net from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface UpstreamRequest {
  method: string;
  path: string;
  status: number;
  /** Response body bytes relayed to the proxy. */
  bytes: number;
}

export interface UpstreamTraffic {
  requests: UpstreamRequest[];
  /** Body bytes of every response. */
  bytes: number;
  /** Body bytes of blob GETs. */
  blobBytes: number;
  /** GETs of a blob, counted per request. */
  blobGets: number;
}

export interface CountingRelay {
  url: string;
  /** The traffic since the last call (or since the start), and a fresh count from now on. */
  take(): UpstreamTraffic;
  stop(): Promise<void>;
}

const BLOB_PATH = /^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/;

export function summarizeTraffic(requests: UpstreamRequest[]): UpstreamTraffic {
  const blobs = requests.filter((r) => r.method === 'GET' && BLOB_PATH.test(r.path.split('?')[0]));
  return {
    requests,
    bytes: requests.reduce((sum, r) => sum + r.bytes, 0),
    blobBytes: blobs.reduce((sum, r) => sum + r.bytes, 0),
    blobGets: blobs.length,
  };
}

export async function startCountingRelay(upstream: URL, latencyMs = 0): Promise<CountingRelay> {
  let requests: UpstreamRequest[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const record: UpstreamRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0, bytes: 0 };
    requests.push(record);
    if (latencyMs > 0) setTimeout(() => relay(req, res, record), latencyMs);
    else relay(req, res, record);
  });

  function relay(req: http.IncomingMessage, res: http.ServerResponse, record: UpstreamRequest): void {
    if (res.destroyed) return;
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        record.status = answer.statusCode ?? 0;
        res.writeHead(record.status, answer.headers);
        const count = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            record.bytes += chunk.length;
            done(null, chunk);
          },
        });
        pipeline(answer, count, res).catch(() => res.destroy());
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    pipeline(req, forward).catch(() => forward.destroy());
  }
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((ok, fail) => server.listen(0, '127.0.0.1', ok).once('error', fail));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take() {
      const taken = requests;
      requests = [];
      return summarizeTraffic(taken);
    },
    async stop() {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
