// Seed rows of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { SeedTable } from "./types.ts";

export const organizationSeed: SeedTable = {
  table: "ost_organization",
  columns: ["id", "name", "manager", "status", "domain", "extra", "created", "updated"],
  rows: [[1, "osTicket", "", 8, "", null, { now: true }, null]],
};
