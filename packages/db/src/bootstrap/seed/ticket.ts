// Seed rows of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { SeedTable } from "./types.ts";

export const ticketStatusSeed: SeedTable = {
  table: "ost_ticket_status",
  columns: ["id", "name", "state", "mode", "flags", "sort", "properties", "created", "updated"],
  rows: [
    [1, "Open", "open", 3, 0, 1, '{"description":"Open tickets."}', { now: true }, "0000-00-00 00:00:00"],
    [
      2,
      "Resolved",
      "closed",
      1,
      0,
      2,
      '{"allowreopen":true,"reopenstatus":0,"description":"Resolved tickets"}',
      { now: true },
      "0000-00-00 00:00:00",
    ],
    [
      3,
      "Closed",
      "closed",
      3,
      0,
      3,
      '{"allowreopen":true,"reopenstatus":0,"description":"Closed tickets. Tickets will still be accessible on client and staff panels."}',
      { now: true },
      "0000-00-00 00:00:00",
    ],
    [
      4,
      "Archived",
      "archived",
      3,
      0,
      4,
      '{"description":"Tickets only adminstratively available but no longer accessible on ticket queues and client panel."}',
      { now: true },
      "0000-00-00 00:00:00",
    ],
    [
      5,
      "Deleted",
      "deleted",
      3,
      0,
      5,
      '{"description":"Tickets queued for deletion. Not accessible on ticket queues."}',
      { now: true },
      "0000-00-00 00:00:00",
    ],
  ],
};

export const ticketPrioritySeed: SeedTable = {
  table: "ost_ticket_priority",
  columns: ["priority_id", "priority", "priority_desc", "priority_color", "priority_urgency", "ispublic"],
  rows: [
    [1, "low", "Low", "#DDFFDD", 4, 1],
    [2, "normal", "Normal", "#FFFFF0", 3, 1],
    [3, "high", "High", "#FEE7E7", 2, 1],
    [4, "emergency", "Emergency", "#FEE7E7", 1, 1],
  ],
};
