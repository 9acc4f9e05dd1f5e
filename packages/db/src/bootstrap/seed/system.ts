// Seed rows of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { SeedTable } from "./types.ts";

export const syslogSeed: SeedTable = {
  table: "ost_syslog",
  columns: ["log_id", "log_type", "title", "log", "logger", "ip_address", "created", "updated"],
  rows: [
    [
      1,
      "Debug",
      "osTicket installed!",
      "Congratulations osTicket basic installation completed!\n\nThank you for choosing osTicket!",
      "",
      "127.0.0.1",
      { now: true },
      { now: true },
    ],
  ],
};
