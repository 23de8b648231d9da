import type { Socket, TCPSocketListener } from "bun";

interface Pair {
  client: Socket<Pair>;
  upstream?: Socket<Pair>;
  /** Bytes from the client that arrived before the upstream connection was open. */
  pending: Uint8Array[];
}

/**
 * A TCP relay between the service and the broker that a test can freeze: while frozen, what
 * the service sends (its acks, say) is swallowed, as if the network had gone quiet just then.
 */
export class TcpProxy {
  private readonly listener: TCPSocketListener<Pair>;
  private readonly pairs = new Set<Pair>();
  private frozen = false;
  private muted = false;

  constructor(upstreamHost: string, upstreamPort: number) {
    const proxy = this;
    this.listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          const pair: Pair = { client, pending: [] };
          client.data = pair;
          proxy.pairs.add(pair);
          Bun.connect<Pair>({
            hostname: upstreamHost,
            port: upstreamPort,
            socket: {
              open(upstream) {
                upstream.data = pair;
                pair.upstream = upstream;
                for (const chunk of pair.pending) upstream.write(chunk);
                pair.pending = [];
              },
              data(_upstream, chunk) {
                if (!proxy.muted) pair.client.write(chunk);
              },
              close() {
                pair.client.end();
              },
              error() {
                pair.client.end();
              },
            },
          }).catch(() => client.end());
        },
        data(client, chunk) {
          if (proxy.frozen) return;
          const pair = client.data;
          if (pair.upstream) pair.upstream.write(chunk);
          else pair.pending.push(new Uint8Array(chunk));
        },
        close(client) {
          client.data.upstream?.end();
          proxy.pairs.delete(client.data);
        },
        error(client) {
          client.data.upstream?.end();
        },
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  /** From now on the service's bytes are dropped (the broker's still reach it). */
  freeze(): void {
    this.frozen = true;
  }

  /** From now on the upstream's answers are dropped (the service's requests still reach it). */
  mute(): void {
    this.muted = true;
  }

  /** Drops every connection, so the client reconnects through a relay that forwards again. */
  reset(): void {
    this.frozen = false;
    this.muted = false;
    for (const pair of this.pairs) {
      pair.upstream?.end();
      pair.client.end();
    }
  }

  /** Closes every connection and stops listening. */
  close(): void {
    for (const pair of this.pairs) {
      pair.upstream?.end();
      pair.client.end();
    }
    this.listener.stop(true);
  }
}
