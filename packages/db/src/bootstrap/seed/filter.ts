// Seed rows of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { SeedTable } from "./types.ts";

export const filterSeed: SeedTable = {
  table: "ost_filter",
  columns: [
    "id",
    "execorder",
    "isactive",
    "flags",
    "status",
    "match_all_rules",
    "stop_onmatch",
    "target",
    "email_id",
    "name",
    "notes",
    "created",
    "updated",
  ],
  rows: [
    [
      1,
      99,
      1,
      0,
      0,
      0,
      0,
      "Email",
      0,
      "SYSTEM BAN LIST",
      "Internal list for email banning. Do not remove",
      { now: true },
      { now: true },
    ],
  ],
};

export const filterRuleSeed: SeedTable = {
  table: "ost_filter_rule",
  columns: ["id", "filter_id", "what", "how", "val", "isactive", "notes", "created", "updated"],
  rows: [[1, 1, "email", "equal", "test@example.com", 1, "", "0000-00-00 00:00:00", { now: true }]],
};

export const filterActionSeed: SeedTable = {
  table: "ost_filter_action",
  columns: ["id", "filter_id", "sort", "type", "configuration", "updated"],
  rows: [[1, 1, 1, "reject", "[]", { now: true }]],
};
