// Request ids: the client's own X-Request-Id when it is short and plain (it is echoed in a header
// and written to logs), else one of ours, unique per process and cheap to make.
import type { IncomingMessage } from 'node:http';

const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;
const bootId = Date.now().toString(36);
let counter = 0;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : `${bootId}-${(++counter).toString(36)}`;
}
