import type { MigrationObject } from "@mikro-orm/core";
import { Migration20250101000000_foundation } from "./Migration20250101000000_foundation.ts";
import { Migration20250301000000_identity } from "./Migration20250301000000_identity.ts";
import { Migration20260501000000_notification } from "./Migration20260501000000_notification.ts";
import { Migration20260502000000_notification_trace } from "./Migration20260502000000_notification_trace.ts";
import { Migration20260503000000_email_trace } from "./Migration20260503000000_email_trace.ts";
import { Migration20260504000000_capture_ticket } from "./Migration20260504000000_capture_ticket.ts";
import { Migration20260505000000_upload } from "./Migration20260505000000_upload.ts";
import { Migration20260506000000_scheduled_task } from "./Migration20260506000000_scheduled_task.ts";
import { Migration20260507000000_email_attachments } from "./Migration20260507000000_email_attachments.ts";

/** Where MikroORM records which of ostmesh's migrations ran. */
export const MIGRATIONS_TABLE = "ostmesh_migrations";

/**
 * Every migration of ostmesh's own tables, oldest first. Add a new file per change and append it here;
 * never edit one that has shipped. Migrations only ever touch `ostmesh_*` tables.
 */
export const migrationsList: MigrationObject[] = [
  { name: "Migration20250101000000_foundation", class: Migration20250101000000_foundation },
  { name: "Migration20250301000000_identity", class: Migration20250301000000_identity },
  { name: "Migration20260501000000_notification", class: Migration20260501000000_notification },
  {
    name: "Migration20260502000000_notification_trace",
    class: Migration20260502000000_notification_trace,
  },
  { name: "Migration20260503000000_email_trace", class: Migration20260503000000_email_trace },
  { name: "Migration20260504000000_capture_ticket", class: Migration20260504000000_capture_ticket },
  { name: "Migration20260505000000_upload", class: Migration20260505000000_upload },
  { name: "Migration20260506000000_scheduled_task", class: Migration20260506000000_scheduled_task },
  {
    name: "Migration20260507000000_email_attachments",
    class: Migration20260507000000_email_attachments,
  },
];
