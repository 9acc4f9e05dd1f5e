import { Gauge, type Registry } from "prom-client";

/** What a connection pool looks like at one instant. */
export interface PoolStats {
  /** Connections checked out by a query or a transaction. */
  readonly inUse: number;
  /** Open connections waiting in the pool. */
  readonly idle: number;
  /** Callers waiting for a connection (the pool is at its limit). */
  readonly pending: number;
  /** The pool's connection limit (0 = unlimited). */
  readonly max: number;
}

/** A pool to watch: read at every scrape, so the numbers are never stale. */
export interface PoolSource {
  /** `pool` label: which pool of the process (`ticket`, `identity`, `auth`, ...). */
  readonly name: string;
  /** Current numbers; undefined while the pool does not exist yet or is closed. */
  stats(): PoolStats | undefined | Promise<PoolStats | undefined>;
}

function lengthOf(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null || !("length" in value)) return undefined;
  return typeof value.length === "number" ? value.length : undefined;
}

/**
 * Reads a mysql2 pool (`mysql.createPool`, or the pool behind MikroORM's MySQL driver). mysql2 keeps its
 * queues in fields it does not document (`_allConnections`, `_freeConnections`, `_connectionQueue`); they
 * have been stable since mysql2 1.x, and anything else (a closed pool, a different shape) reads as undefined
 * instead of throwing at scrape time.
 */
export function mysql2PoolStats(pool: unknown): PoolStats | undefined {
  if (typeof pool !== "object" || pool === null) return undefined;
  // The promise wrapper (mysql2/promise) holds the callback pool in `pool`.
  const inner = "_allConnections" in pool ? pool : "pool" in pool ? pool.pool : undefined;
  if (typeof inner !== "object" || inner === null) return undefined;
  if ("_closed" in inner && inner._closed === true) return undefined;
  const all = "_allConnections" in inner ? lengthOf(inner._allConnections) : undefined;
  const free = "_freeConnections" in inner ? lengthOf(inner._freeConnections) : undefined;
  const queued = "_connectionQueue" in inner ? lengthOf(inner._connectionQueue) : undefined;
  if (all === undefined || free === undefined || queued === undefined) return undefined;
  let max = 0;
  if ("config" in inner && typeof inner.config === "object" && inner.config !== null) {
    const config = inner.config;
    if ("connectionLimit" in config && typeof config.connectionLimit === "number")
      max = config.connectionLimit;
  }
  return { inUse: all - free, idle: free, pending: queued, max };
}

/** Anything with MikroORM's `em.getDriver().getConnection().getNativeClient()` (the mysql2 pool). */
export interface NativePoolOwner {
  readonly em: {
    getDriver(): { getConnection(): { getNativeClient(): Promise<unknown> } };
  };
}

/** A PoolSource for a MikroORM instance on the MySQL or MariaDB driver. */
export function mikroOrmPoolSource(name: string, orm: NativePoolOwner): PoolSource {
  let pool: Promise<unknown> | undefined;
  return {
    name,
    async stats() {
      pool ??= orm.em
        .getDriver()
        .getConnection()
        .getNativeClient()
        .catch(() => undefined);
      return mysql2PoolStats(await pool);
    },
  };
}

const sourcesByRegistry = new WeakMap<Registry, Map<string, PoolSource>>();

/**
 * Exports a process's database pools on its registry:
 *   ostmesh_db_pool_connections{pool, state="in_use"|"idle"}
 *   ostmesh_db_pool_pending_requests{pool}     callers waiting for a connection (saturation)
 *   ostmesh_db_pool_max_connections{pool}
 * Several pools may be added to one registry; a pool added again under the same name replaces the first.
 * Returns a function that removes the pool (call it when the pool is closed).
 */
export function watchDbPool(registry: Registry, source: PoolSource): () => void {
  let sources = sourcesByRegistry.get(registry);
  if (!sources) {
    const known = new Map<string, PoolSource>();
    sources = known;
    sourcesByRegistry.set(registry, known);
    const read = async () =>
      Promise.all(
        [...known.values()].map(async (s) => ({
          name: s.name,
          stats: await Promise.resolve(s.stats()).catch(() => undefined),
        })),
      );
    // Pool numbers are plain field reads: each gauge reads them itself, so a scrape is never stale.
    const current = read;
    const connections: Gauge<"pool" | "state"> = new Gauge({
      name: "ostmesh_db_pool_connections",
      help: "Database pool connections by state (in_use: checked out; idle: open and free)",
      labelNames: ["pool", "state"],
      registers: [registry],
      async collect() {
        connections.reset();
        for (const { name, stats } of await current()) {
          if (!stats) continue;
          connections.set({ pool: name, state: "in_use" }, stats.inUse);
          connections.set({ pool: name, state: "idle" }, stats.idle);
        }
      },
    });
    const pending: Gauge<"pool"> = new Gauge({
      name: "ostmesh_db_pool_pending_requests",
      help: "Callers waiting for a database connection because the pool is at its limit",
      labelNames: ["pool"],
      registers: [registry],
      async collect() {
        pending.reset();
        for (const { name, stats } of await current()) if (stats) pending.set({ pool: name }, stats.pending);
      },
    });
    const max: Gauge<"pool"> = new Gauge({
      name: "ostmesh_db_pool_max_connections",
      help: "Connection limit of the database pool (0 = unlimited)",
      labelNames: ["pool"],
      registers: [registry],
      async collect() {
        max.reset();
        for (const { name, stats } of await current()) if (stats) max.set({ pool: name }, stats.max);
      },
    });
  }
  sources.set(source.name, source);
  const owned = sources;
  return () => {
    if (owned.get(source.name) === source) owned.delete(source.name);
  };
}
