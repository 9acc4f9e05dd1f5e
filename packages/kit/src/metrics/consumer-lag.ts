import { Counter, Gauge, type Registry } from "prom-client";

/** The part of a JetStream consumer's info the lag gauges read (`jsm.consumers.info(stream, name)`). */
export interface ConsumerInfoLike {
  readonly num_pending: number;
  readonly num_ack_pending: number;
  readonly num_redelivered: number;
}

/** Reads consumer info: `jsm.consumers` from @nats-io/jetstream fits. */
export interface ConsumerInfoSource {
  info(stream: string, consumer: string): Promise<ConsumerInfoLike>;
}

export interface WatchedConsumer {
  readonly stream: string;
  readonly consumer: string;
}

interface Watch {
  readonly source: ConsumerInfoSource;
  readonly consumers: Map<string, WatchedConsumer>;
}

const watches = new WeakMap<Registry, Watch[]>();

/**
 * Consumer lag on a process's registry, read from the NATS server at every scrape (bounded by `timeoutMs`):
 *   ostmesh_consumer_pending_messages{stream, consumer}      not yet delivered to the consumer (num_pending)
 *   ostmesh_consumer_ack_pending_messages{stream, consumer}  delivered, not yet acknowledged
 *   ostmesh_consumer_redelivered_messages{stream, consumer}  delivered more than once and still unacked
 *   ostmesh_consumer_info_errors_total{stream, consumer}     scrapes where the server did not answer
 * Returns a function that stops watching the consumer.
 */
export function watchConsumerLag(
  registry: Registry,
  source: ConsumerInfoSource,
  consumer: WatchedConsumer,
  timeoutMs = 2000,
): () => void {
  let list = watches.get(registry);
  if (!list) {
    const all: Watch[] = [];
    list = all;
    watches.set(registry, all);
    // Declared before `read` uses it; its collect waits for the scrape's reads so failures count at once.
    const errors: Counter<"stream" | "consumer"> = new Counter({
      name: "ostmesh_consumer_info_errors_total",
      help: "Scrapes where the NATS server did not return a consumer's info in time",
      labelNames: ["stream", "consumer"],
      registers: [registry],
      async collect() {
        await current();
      },
    });
    const read = async () => {
      const rows: { labels: { stream: string; consumer: string }; info: ConsumerInfoLike }[] = [];
      await Promise.all(
        all.flatMap((w) =>
          [...w.consumers.values()].map(async (c) => {
            const labels = { stream: c.stream, consumer: c.consumer };
            try {
              const info = await Promise.race([
                w.source.info(c.stream, c.consumer),
                new Promise<never>((_, reject) =>
                  setTimeout(() => reject(new Error("consumer info timed out")), timeoutMs).unref(),
                ),
              ]);
              rows.push({ labels, info });
            } catch {
              errors.inc(labels);
            }
          }),
        ),
      );
      return rows;
    };
    // One server round trip per consumer serves the four series of a scrape: the snapshot is used by each
    // series once (or for at most a second), then the next scrape asks the server again.
    const SERIES = 4;
    let snapshot: { rows: ReturnType<typeof read>; uses: number; at: number } | undefined;
    const current = () => {
      if (!snapshot || snapshot.uses >= SERIES || Date.now() - snapshot.at > 1000)
        snapshot = { rows: read(), uses: 0, at: Date.now() };
      snapshot.uses++;
      return snapshot.rows;
    };
    const gauge = (name: string, help: string, pick: (info: ConsumerInfoLike) => number) => {
      const g: Gauge<"stream" | "consumer"> = new Gauge({
        name,
        help,
        labelNames: ["stream", "consumer"],
        registers: [registry],
        async collect() {
          g.reset();
          for (const row of await current()) g.set(row.labels, pick(row.info));
        },
      });
    };
    gauge(
      "ostmesh_consumer_pending_messages",
      "Messages in the stream not yet delivered to the consumer (JetStream num_pending)",
      (i) => i.num_pending,
    );
    gauge(
      "ostmesh_consumer_ack_pending_messages",
      "Messages delivered to the consumer and not yet acknowledged (JetStream num_ack_pending)",
      (i) => i.num_ack_pending,
    );
    gauge(
      "ostmesh_consumer_redelivered_messages",
      "Unacknowledged messages delivered more than once (JetStream num_redelivered)",
      (i) => i.num_redelivered,
    );
  }
  let watch = list.find((w) => w.source === source);
  if (!watch) {
    watch = { source, consumers: new Map() };
    list.push(watch);
  }
  const key = `${consumer.stream}\u0000${consumer.consumer}`;
  watch.consumers.set(key, consumer);
  const owned = watch;
  return () => {
    owned.consumers.delete(key);
  };
}
