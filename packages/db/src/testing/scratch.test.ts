import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase, type ScratchDatabase } from "./scratch.ts";

describe("scratch databases", () => {
  let db: ScratchDatabase;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "scratch" });
  });
  afterAll(async () => {
    await db.drop();
  });

  it("clones the fresh osTicket install with its seed rows", async () => {
    const conn = await mysql.createConnection({ uri: db.url });
    try {
      const [tables] = await conn.query<mysql.RowDataPacket[]>("SHOW TABLES");
      expect(tables.length).toBe(72);
      const [staff] = await conn.query<mysql.RowDataPacket[]>("SELECT username FROM ost_staff");
      expect(staff.map((r) => r.username)).toEqual(["ostadmin"]);
      const [sig] = await conn.query<mysql.RowDataPacket[]>(
        "SELECT value FROM ost_config WHERE namespace='core' AND `key`='schema_signature'",
      );
      expect(sig[0]?.value).toBe("5fb92bef17f3b603659e024c01cc7a59");
    } finally {
      await conn.end();
    }
  });
});
