/**
 * Throughput and memory of the attachment store: streams generated files into a scratch copy of the fresh
 * osTicket install (real MariaDB), reads them back, and prints MB/s and RSS.
 *
 *   npx node bench/attachment-store.ts [sizeMB ...]       (default: 10 100)
 *
 * TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306) names the server; the scratch database is dropped
 * at the end.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile, storeFile } from "@ostmesh/attachment/storage/index.ts";
import { createOrm } from "@ostmesh/db";
import { databaseUrl, loadDump, serverConnection } from "@ostmesh/db/testing/scratch.ts";

const PIECE = 64 * 1024;
const MB = 1_000_000;

async function* generated(size: number, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < size; sent += PIECE) {
    const piece = randomBytes(Math.min(PIECE, size - sent));
    hash.update(piece);
    yield piece;
  }
}

/** Samples RSS every 5 ms while `work` runs; returns its result, the elapsed time and the peak RSS. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; peakRss: number }> {
  let peakRss = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 5);
  const started = performance.now();
  try {
    const result = await work();
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    return { result, seconds: (performance.now() - started) / 1000, peakRss };
  } finally {
    clearInterval(timer);
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : ["10", "100"]).map(
    (s) => Number(s) * MB,
  );
  const database = `ostmesh_bench_${randomBytes(3).toString("hex")}`;
  await loadDump(database);
  const orm = await createOrm({
    url: databaseUrl(database),
    entities: [],
    extra: { discovery: { warnWhenNoEntities: false } },
  });
  try {
    globalThis.gc?.();
    const baseline = process.memoryUsage.rss();
    console.log(`baseline RSS ${mib(baseline)}; pieces of ${PIECE} bytes; chunks of 512000 bytes`);
    for (const size of sizes) {
      const inputHash = createHash("sha256");
      const write = await measured(() =>
        storeFile(orm.em.fork(), {
          name: `bench-${size}.bin`,
          declaredType: "application/octet-stream",
          source: generated(size, inputHash),
          maxBytes: size,
        }),
      );
      const read = await measured(async () => {
        const content = await readFile(orm.em.fork(), write.result.id);
        const hash = createHash("sha256");
        for await (const chunk of content.chunks()) hash.update(chunk);
        return hash.digest("hex");
      });
      const intact = read.result === inputHash.digest("hex");
      console.log(
        [
          `${(size / MB).toFixed(0)} MB:`,
          `store ${(size / MB / write.seconds).toFixed(1)} MB/s (${write.seconds.toFixed(2)} s), peak RSS ${mib(write.peakRss)} (+${mib(write.peakRss - baseline)} over baseline);`,
          `read ${(size / MB / read.seconds).toFixed(1)} MB/s (${read.seconds.toFixed(2)} s), peak RSS ${mib(read.peakRss)};`,
          `bytes out ${intact ? "==" : "!="} bytes in`,
        ].join(" "),
      );
      if (!intact) process.exitCode = 1;
    }
    console.log(`process peak RSS (getrusage) ${mib(process.resourceUsage().maxRSS * 1024)}`);
  } finally {
    await orm.close(true);
    const conn = await serverConnection();
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await conn.end();
  }
}

await main();
