import net from "node:net";
import { describe, expect, it } from "vitest";
import { canListen, freePort } from "./ports.ts";

describe("freePort", () => {
  it("hands out distinct ports below the ephemeral range, skipping one in use", async () => {
    const first = await freePort();
    expect(first).toBeGreaterThanOrEqual(21_000);
    expect(first).toBeLessThan(32_000);
    // Occupy the port that would come next; it must be skipped.
    const busy = first + 1 <= Math.floor(first / 1000) * 1000 + 999 ? first + 1 : first - 999;
    const holder = net.createServer();
    // (Something else on the machine may hold it already: busy either way.)
    if (await canListen(busy))
      await new Promise<void>((resolve) => holder.listen(busy, "127.0.0.1", resolve));
    try {
      expect(await canListen(busy)).toBe(false);
      const second = await freePort();
      expect(second).not.toBe(busy);
      expect(second).not.toBe(first);
      expect(await canListen(second)).toBe(true);
    } finally {
      if (holder.listening) await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
