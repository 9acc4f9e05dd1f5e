import { describe, expect, it } from "vitest";
import { osTicketCleansDatabaseSessions } from "./maintenance.ts";

describe("osTicketCleansDatabaseSessions", () => {
  it.each([
    [undefined, true],
    ["", true],
    ["database", true],
    ["DataBase", true],
    ["database.memcache", true],
    ["memcache.database", true],
    ["Memcache.Database", true],
    ["redis", true],
    ["redis.database", true],
    ["memcache", false],
    ["system", false],
    ["System", false],
    ["database.redis", false],
    ["memcache.system", false],
  ])("SESSION_BACKEND %j: ost_session cleaned by cron = %s", (backend, cleaned) => {
    expect(osTicketCleansDatabaseSessions(backend)).toBe(cleaned);
  });
});
