import { describeError, type Logger } from "@ostmesh/bus";
import { type EntityManager, execute, query, type Row } from "@ostmesh/db";
import type { DeliveryChannel, DeliveryMetrics } from "@ostmesh/kit/metrics/delivery.ts";
import { num } from "./osticket/reads.ts";

/**
 * What the e-mail sender and the webhook deliverer share: a queue table whose due rows are claimed with a
 * lease, worked a few at a time, and retried later with exponential backoff. Each caller keeps what differs:
 * which rows are due, how one is attempted, how its outcome is recorded, and the jitter of its backoff.
 */

export interface DeliveryLoopOptions {
  logger: Logger;
  /** The log line of a round that failed as a whole (the loop goes on after the poll interval). */
  roundFailedMessage: string;
  /** Idle poll interval; `notify()` wakes the loop at once. */
  pollIntervalMs: number;
  /** A round that claimed this many runs the next one at once (more may be due). */
  batchSize: number;
  /** One round: claims due rows and attempts them; returns how many were claimed. */
  round(): Promise<number>;
}

/** Runs rounds until stopped: at once after a full batch or a `notify()`, otherwise every poll interval. */
export class DeliveryLoop {
  readonly #o: DeliveryLoopOptions;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(options: DeliveryLoopOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  notify(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Lets the round in progress finish, then ends the loop. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let claimed = 0;
      try {
        claimed = await this.#o.round();
      } catch (error) {
        this.#o.logger.error({ error: describeError(error) }, this.#o.roundFailedMessage);
      }
      if (claimed >= this.#o.batchSize || this.#stopping) continue;
      if (this.#woken) {
        this.#woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#o.pollIntervalMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
      this.#woken = false;
    }
  }
}

/** Works `items` in order, at most `concurrency` at a time; rejects with the first failure (after it). */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Exponential backoff before jitter: `initialMs` after the first failure, doubling, capped at `maxMs`. */
export function backoffMs(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
}

export interface LeaseClaim {
  /** The queue table; its `id` and `lease_until` columns hold the claim. */
  readonly table: string;
  /** Selects the ids of due rows, in order, `LIMIT ? FOR UPDATE SKIP LOCKED` (the limit is the last param). */
  readonly dueSql: string;
  readonly dueParams: readonly unknown[];
  /** How long a claimed row stays reserved for this worker. */
  readonly leaseMs: number;
  /** Reads the claimed rows (`marks` is the `?,?,…` list of `ids`), inside the claim's transaction. */
  load(tx: EntityManager, ids: readonly number[], marks: string): Promise<Row[]>;
}

/**
 * Claims due rows for this worker: locks them (skipping rows another replica is claiming), sets their lease,
 * and reads them, in one transaction. A row whose lease runs out (its worker died) becomes due again.
 */
export async function claimLeased(em: EntityManager, claim: LeaseClaim): Promise<Row[]> {
  return em.transactional(async (tx) => {
    const due = await query(tx, claim.dueSql, claim.dueParams);
    if (due.length === 0) return [];
    const ids = due.map((r) => num(r.id));
    const marks = ids.map(() => "?").join(",");
    await execute(
      tx,
      `UPDATE ${claim.table} SET lease_until = NOW(6) + INTERVAL ? MICROSECOND WHERE id IN (${marks})`,
      [claim.leaseMs * 1000, ...ids],
    );
    return claim.load(tx, ids, marks);
  });
}

/** Reports a channel's queue depth to `metrics`, at most every 5 s (the count scans the due index). */
export class QueueDepth {
  readonly #metrics: DeliveryMetrics | undefined;
  readonly #channel: DeliveryChannel;
  readonly #countSql: string;
  readonly #params: readonly unknown[];
  #last = 0;

  constructor(
    metrics: DeliveryMetrics | undefined,
    channel: DeliveryChannel,
    countSql: string,
    params: readonly unknown[],
  ) {
    this.#metrics = metrics;
    this.#channel = channel;
    this.#countSql = countSql;
    this.#params = params;
  }

  async report(em: EntityManager): Promise<void> {
    if (!this.#metrics || Date.now() - this.#last < 5_000) return;
    this.#last = Date.now();
    const [row] = await query(em, this.#countSql, this.#params);
    this.#metrics.queued(this.#channel, num(row?.n));
  }
}
