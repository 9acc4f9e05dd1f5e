import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { num } from "@ostmesh/kit/auth/index.ts";

/**
 * Times leave the service as UTC Timestamps. osTicket's DATETIME/TIMESTAMP columns are in the database
 * server's zone, so queries select them as `UNIX_TIMESTAMP(col)` (the server converts with its own zone,
 * zero dates give 0); ostmesh's own columns already hold UTC and are selected as epoch milliseconds with
 * `epochMs(col)`.
 */
export function epochMs(column: string): string {
  return `TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ${column}) DIV 1000`;
}

/** A Timestamp from UNIX_TIMESTAMP() seconds; absent for NULL and zero dates. */
export function fromUnixSeconds(value: unknown): Timestamp | undefined {
  const seconds = num(value);
  return seconds > 0 ? timestampFromMs(Math.round(seconds * 1000)) : undefined;
}

/** A Timestamp from epoch milliseconds; absent for NULL. */
export function fromEpochMs(value: unknown): Timestamp | undefined {
  if (value === null || value === undefined) return undefined;
  return timestampFromMs(num(value));
}
