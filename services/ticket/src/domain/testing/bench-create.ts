/**
 * Measures createTicket throughput on a throw-away clone of the fresh install:
 *   npx node services/ticket/src/domain/testing/bench-create.ts [tickets] [concurrency]
 * Needs MariaDB at TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306).
 */
import { randomBytes } from "node:crypto";
import { createOrm, runMigrations } from "@ostmesh/db";
import { databaseUrl, loadDump, serverConnection } from "@ostmesh/db/testing/scratch.ts";
import { SYSTEM_ACTOR } from "../ports.ts";
import { MetadataCache } from "../reference/forms.ts";
import { inTransaction } from "../sql.ts";
import { createTicket } from "../ticket/create-ticket.ts";

const total = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 16);
const name = `ostmesh_bench_${randomBytes(3).toString("hex")}`;
await loadDump(name);
const orm = await createOrm({ url: databaseUrl(name), pool: { max: concurrency } });
try {
  await runMigrations(orm);
  await inTransaction(orm.em, (tx) =>
    tx.run(
      "INSERT INTO ost_config (namespace, `key`, value) VALUES ('core', 'verify_email_addrs', '0')" +
        " ON DUPLICATE KEY UPDATE value = '0'",
    ),
  );
  const metadata = new MetadataCache({ ttlMs: 5_000 });
  let next = 0;
  const one = async (i: number) =>
    inTransaction(orm.em, (tx) =>
      createTicket(
        tx,
        {
          // Half new users, half repeat requesters.
          requester: {
            email: `bench${i % 2 ? i : 0}@example.com`,
            name: `Bench User ${i}`,
            phone: "555-123-4567",
          },
          subject: `Bench ticket ${i}`,
          message: "<p>Hello <b>bench</b></p>",
          messageFormat: "html",
          ipAddress: "203.0.113.7",
          legacy: true,
        },
        SYSTEM_ACTOR,
        { metadata, emit: async () => {} },
      ),
    );
  await one(0);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) await one(i + 1);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${total} creates in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)}/s (concurrency ${concurrency})`,
  );
} finally {
  await orm.close(true);
  const conn = await serverConnection();
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await conn.end();
}
