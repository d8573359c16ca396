// A TCP proxy on 127.0.0.1 that counts the bytes crossing it each way: what a client would send over
// a real network to its backup server. TLS passes through untouched (the proxy never decrypts), so the
// counts include the TLS and gRPC framing a link would carry.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface WireBytes {
  /** Client to server. */
  readonly sent: number;
  /** Server to client. */
  readonly received: number;
}

class Counter extends Transform {
  constructor(private readonly add: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.add(chunk.length);
    callback(null, chunk);
  }
}

export class ByteCountingProxy {
  private sent = 0;
  private received = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  /** Listens on a free port of 127.0.0.1 and forwards every connection to targetPort there. */
  static async start(targetPort: number): Promise<ByteCountingProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('byte-counting proxy: no listening address');
    const proxy = new ByteCountingProxy(server, address.port);
    server.on('connection', (client) => proxy.forward(client, targetPort));
    return proxy;
  }

  private forward(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    }
    // Either side closing or failing ends both: a half-dead pair would hang the client.
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    pipeline(client, new Counter((bytes) => (this.sent += bytes)), upstream).then(end, end);
    pipeline(upstream, new Counter((bytes) => (this.received += bytes)), client).then(end, end);
  }

  /** Bytes counted since the last call, each way. */
  take(): WireBytes {
    const counted = { sent: this.sent, received: this.received };
    this.sent = 0;
    this.received = 0;
    return counted;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
