// Seed rows of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { SeedTable } from "./types.ts";

export const eventSeed: SeedTable = {
  table: "ost_event",
  columns: ["id", "name", "description"],
  rows: [
    [1, "created", null],
    [2, "closed", null],
    [3, "reopened", null],
    [4, "assigned", null],
    [5, "released", null],
    [6, "transferred", null],
    [7, "referred", null],
    [8, "overdue", null],
    [9, "edited", null],
    [10, "viewed", null],
    [11, "error", null],
    [12, "collab", null],
    [13, "resent", null],
    [14, "deleted", null],
    [15, "merged", null],
    [16, "unlinked", null],
    [17, "linked", null],
    [18, "login", null],
    [19, "logout", null],
    [20, "message", null],
    [21, "note", null],
  ],
};
