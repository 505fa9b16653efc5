// Closing a connection whose request body is still arriving (413 on a manifest declared too
// large, 401 before an upload, a write that failed mid-body) without losing the answer.
// Node destroys a `Connection: close` socket as soon as the answer is flushed; body bytes that
// arrive after that make the kernel send RST, and a client still writing gets EPIPE and often
// never reads the answer. Instead: send FIN after the answer, keep reading (and discarding) up
// to a bound, and close when the client closes or the time is up, as Go's server does.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How long a refused client gets to read its answer before the connection is dropped. */
export const LINGER_MS = 2000;
/** Body bytes read and discarded meanwhile; past this the socket stops reading (TCP pushes back). */
export const LINGER_BYTES = 1024 * 1024;

const lingering = new WeakSet<Socket>();

/** Call before answering a request whose body has not all arrived, with Connection: close set. */
export function lingerAfterAnswer(req: IncomingMessage, limits: { ms: number; bytes: number } = { ms: LINGER_MS, bytes: LINGER_BYTES }): void {
  const socket = req.socket as Socket | null;
  if (!socket || socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  // node:http calls destroySoon() once the answer with Connection: close is flushed.
  socket.destroySoon = function lingerThenClose(this: Socket): void {
    if (this.writable) this.end();
    let read = 0;
    const close = () => this.destroy();
    const timer = setTimeout(close, limits.ms);
    timer.unref();
    this.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > limits.bytes) this.pause();
    });
    this.once('end', close);
    this.once('close', () => clearTimeout(timer));
    this.resume();
  };
}
