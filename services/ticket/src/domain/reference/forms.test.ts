import { describe, expect, it } from "vitest";
import { MetadataCache } from "./forms.ts";

describe("MetadataCache.shared (business-hours schedules and other admin-edited metadata)", () => {
  it("reuses a loaded value, an absent one included, until the TTL passes or the cache is invalidated", async () => {
    let now = 1_000;
    const cache = new MetadataCache({ ttlMs: 5_000, now: () => now });
    const loads: string[] = [];
    const load = (key: string, value: string | undefined) =>
      cache.shared(key, async () => {
        loads.push(key);
        return value;
      });

    expect(await load("schedule:1:UTC", "mon-fri")).toBe("mon-fri");
    expect(await load("schedule:1:UTC", "changed")).toBe("mon-fri");
    expect(await load("schedule:9:UTC", undefined)).toBeUndefined();
    expect(await load("schedule:9:UTC", "appeared")).toBeUndefined();
    // Another key (the same schedule in another zone) is loaded on its own.
    expect(await load("schedule:1:Europe/Paris", "paris")).toBe("paris");
    expect(loads).toEqual(["schedule:1:UTC", "schedule:9:UTC", "schedule:1:Europe/Paris"]);

    now += 5_000;
    expect(await load("schedule:1:UTC", "changed")).toBe("changed");
    cache.invalidate();
    expect(await load("schedule:9:UTC", "appeared")).toBe("appeared");
    expect(loads.length).toBe(5);
  });

  it("caches nothing with a TTL of 0 (tests and TICKET_METADATA_TTL=0 see every edit at once)", async () => {
    const cache = new MetadataCache({ ttlMs: 0 });
    let n = 0;
    const next = () => cache.shared("schedule:1:UTC", async () => ++n);
    expect([await next(), await next(), await next()]).toEqual([1, 2, 3]);
  });
});
