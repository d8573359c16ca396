// A TCP proxy in front of a real service that can cut a connection the moment the answer to a chosen
// request starts to come back: the request was served, the client never learns it (a lost answer, as
// when a connection dies at the worst time). Bytes pass through unchanged otherwise.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface CutRule {
  /** Matched against the text of the client's bytes on the connection (request line and headers). */
  readonly request: RegExp;
  /** Matched against the first bytes of the answer ("HTTP/1.1 200"): a "100 Continue" is let through. */
  readonly answer: RegExp;
}

export interface CuttingProxy {
  readonly port: number;
  /** Cuts the next connection whose request and answer match. */
  cutNext(rule: CutRule): void;
  readonly cuts: number;
  close(): Promise<void>;
}

export async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const pending: CutRule[] = [];
  const sockets = new Set<Socket>();
  let cuts = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    // Only the latest request's head matters: keep-alive connections carry one request after another.
    let requestHead = '';
    client.on('data', (data: Buffer) => {
      const text = data.subarray(0, 2048).toString('latin1');
      if (/^(GET|PUT|POST|HEAD|DELETE) /.test(text)) requestHead = text;
      if (!upstream.write(data)) client.pause();
    });
    upstream.on('data', (data: Buffer) => {
      const answer = data.subarray(0, 64).toString('latin1');
      const index = pending.findIndex((rule) => rule.request.test(requestHead) && rule.answer.test(answer));
      if (index >= 0) {
        pending.splice(index, 1);
        cuts += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      if (!client.write(data)) upstream.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    cutNext: (rule) => {
      pending.push(rule);
    },
    get cuts() {
      return cuts;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
