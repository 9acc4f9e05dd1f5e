import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digitCount, formatTicketNumber, nextTicketNumber, randomNumber } from "./numbers.ts";
import { int } from "./rows.ts";
import { type Harness, openHarness, seededRandom } from "./testing/harness.ts";

describe("ticket number formats (Sequence::format)", () => {
  it("fills # slots, pads, appends surplus digits and honours \\# escapes", () => {
    expect(formatTicketNumber("######", "771291")).toBe("771291");
    expect(formatTicketNumber("######", 42)).toBe("000042");
    expect(formatTicketNumber("AB-####", "123456")).toBe("AB-123456");
    expect(formatTicketNumber("AB-####", 7)).toBe("AB-0007");
    expect(formatTicketNumber("TX-###-##-US", 12345)).toBe("TX-123-45-US");
    expect(formatTicketNumber("\\####", 5)).toBe("#005");
    expect(formatTicketNumber("X\\#-##", 3, "*")).toBe("X#-*3");
    expect(formatTicketNumber("NOHASH", 99)).toBe("99NOHASH");
  });

  it("counts unescaped slots and draws random numbers with a non-zero first digit", () => {
    expect(digitCount("AB-####")).toBe(4);
    expect(digitCount("\\####")).toBe(3);
    const random = seededRandom(1);
    for (let i = 0; i < 200; i++) expect(randomNumber(6, random)).toMatch(/^[1-9]\d{5}$/);
    expect(randomNumber(8, () => 0)).toBe("10000000");
  });
});

describe("nextTicketNumber", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness("numbers");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("uses a counter sequence under a row lock and advances it by its increment", async () => {
    await h.query("SELECT 1");
    await h.tx((tx) =>
      tx.run("UPDATE ost_sequence SET `next` = 41, `increment` = 2, padding = '0' WHERE id = 1"),
    );
    const a = await h.tx((tx) => nextTicketNumber(tx, { format: "AB-#####", sequenceId: 1 }));
    const b = await h.tx((tx) => nextTicketNumber(tx, { format: "AB-#####", sequenceId: 1 }));
    expect([a, b]).toEqual(["AB-00041", "AB-00043"]);
    const [seq] = await h.query("SELECT `next` FROM ost_sequence WHERE id = 1");
    expect(seq ? int(seq, "next") : 0).toBe(45);
  });

  it("skips numbers already used and falls back to random numbers for an unknown sequence", async () => {
    await h.tx((tx) => tx.run("UPDATE ost_sequence SET `next` = 7, `increment` = 1 WHERE id = 1"));
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_ticket (number, user_id, created, updated) VALUES ('007', 0, NOW(), NOW()), ('008', 0, NOW(), NOW())",
      ),
    );
    expect(await h.tx((tx) => nextTicketNumber(tx, { format: "###", sequenceId: 1 }))).toBe("009");
    const random = await h.tx((tx) =>
      nextTicketNumber(tx, { format: "##", sequenceId: 999 }, seededRandom(3)),
    );
    expect(random).toMatch(/^[1-9]\d{5}$/);
  });
});
