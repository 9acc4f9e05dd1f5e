import { once } from "node:events";
import { createServer } from "node:net";
import { Code } from "@connectrpc/connect";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transientError } from "./transient.ts";

/** What a promise rejected with (every case here is a real driver failure, so it must reject). */
async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  throw new Error("expected the statement to fail");
}

async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  return typeof address === "object" && address !== null ? address.port : 0;
}

describe("transientError, on the driver's real failures", () => {
  let db: ScratchDatabase;
  const open: mysql.Connection[] = [];
  const connect = async (options: mysql.ConnectionOptions = {}) => {
    const conn = await mysql.createConnection({ uri: db.url, ...options });
    open.push(conn);
    return conn;
  };

  beforeAll(async () => {
    db = await createScratchDatabase({ from: "empty", label: "transient" });
    const conn = await connect();
    await conn.query("CREATE TABLE pair (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
    await conn.query("INSERT INTO pair VALUES (1, 0), (2, 0)");
  });

  afterAll(async () => {
    for (const conn of open) conn.destroy();
    await db?.drop();
  });

  it("a server nobody listens for → UNAVAILABLE, the driver's error kept as cause", async () => {
    const error = await failure(
      mysql.createConnection({ host: "127.0.0.1", port: await closedPort(), user: "root" }),
    );
    expect(error).toMatchObject({ code: "ECONNREFUSED" });
    const mapped = transientError(error);
    expect(mapped?.code).toBe(Code.Unavailable);
    expect(mapped?.cause).toBe(error);
  });

  it("a Unix socket that is not there (a server restarting) → UNAVAILABLE", async () => {
    const error = await failure(
      mysql.createConnection({ socketPath: "/nonexistent/ostmesh-test/mysqld.sock", user: "root" }),
    );
    expect(error).toMatchObject({ code: "ENOENT", syscall: "connect" });
    expect(transientError(error)?.code).toBe(Code.Unavailable);
  });

  it("a connection the server killed → UNAVAILABLE, and so is every later statement on it", async () => {
    const victim = await connect();
    const admin = await connect();
    const [[{ id }]] = (await victim.query("SELECT CONNECTION_ID() AS id")) as unknown as [[{ id: number }]];
    await admin.query(`KILL CONNECTION ${Number(id)}`);
    const first = await failure(victim.query("SELECT 1"));
    expect(transientError(first)?.code).toBe(Code.Unavailable);
    const later = await failure(victim.query("SELECT 1"));
    expect(later).toMatchObject({ fatal: true });
    expect(transientError(later)?.code).toBe(Code.Unavailable);
  });

  it("a deadlock victim → ABORTED, also when wrapped by a layer above the driver", async () => {
    const a = await connect();
    const b = await connect();
    await a.query("BEGIN");
    await b.query("BEGIN");
    await a.query("UPDATE pair SET v = v + 1 WHERE id = 1");
    await b.query("UPDATE pair SET v = v + 1 WHERE id = 2");
    const waiting = a.query("UPDATE pair SET v = v + 1 WHERE id = 2").then(
      () => undefined,
      (error: unknown) => error,
    );
    // Give a's statement time to start waiting for b's lock, so that b closes the cycle.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const crossing = await b.query("UPDATE pair SET v = v + 1 WHERE id = 1").then(
      () => undefined,
      (error: unknown) => error,
    );
    const victim = (await waiting) ?? crossing;
    await a.query("ROLLBACK");
    await b.query("ROLLBACK");
    expect(victim).toMatchObject({ errno: 1213 });
    expect(transientError(victim)?.code).toBe(Code.Aborted);
    const wrapped = new Error("could not write the ticket", { cause: victim });
    expect(transientError(wrapped)?.code).toBe(Code.Aborted);
  });

  it("a lock wait timeout → ABORTED", async () => {
    const holder = await connect();
    const waiter = await connect();
    await waiter.query("SET SESSION innodb_lock_wait_timeout = 1");
    await holder.query("BEGIN");
    await holder.query("UPDATE pair SET v = v + 1 WHERE id = 1");
    const error = await failure(waiter.query("UPDATE pair SET v = v + 1 WHERE id = 1"));
    await holder.query("ROLLBACK");
    expect(error).toMatchObject({ errno: 1205 });
    expect(transientError(error)?.code).toBe(Code.Aborted);
  });

  it("one refused address among several (an AggregateError) → UNAVAILABLE", async () => {
    const refused = await failure(
      mysql.createConnection({ host: "127.0.0.1", port: await closedPort(), user: "root" }),
    );
    expect(transientError(new AggregateError([new Error("bad address"), refused]))?.code).toBe(
      Code.Unavailable,
    );
  });

  it("leaves failures a retry cannot cure alone: syntax, duplicate key, unknown table, a bug", async () => {
    const conn = await connect();
    const syntax = await failure(conn.query("SELEKT 1"));
    const duplicate = await failure(conn.query("INSERT INTO pair VALUES (1, 0)"));
    const unknown = await failure(conn.query("SELECT * FROM no_such_table"));
    expect([syntax, duplicate, unknown]).toMatchObject([{ errno: 1064 }, { errno: 1062 }, { errno: 1146 }]);
    for (const error of [
      syntax,
      duplicate,
      unknown,
      new TypeError("x is undefined"),
      "a string",
      undefined,
    ]) {
      expect(transientError(error)).toBeUndefined();
    }
  });
});
