/**
 * Checks every request for values its wire format lets through but its types forbid: a
 * google.protobuf.Timestamp outside 0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999999999Z (the JSON form
 * cannot carry one, the binary form can). Such a value is INVALID_ARGUMENT naming the field, before any
 * handler turns it into a date the database or JavaScript cannot hold.
 */
import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";

const MIN_SECONDS = -62135596800n;
const MAX_SECONDS = 253402300799n;

export interface Malformed {
  /** The field's path in the request, in proto names (`filter.created.start`, `items[2].due_date`). */
  readonly field: string;
  readonly description: string;
}

/** The malformed values of `message` (of type `desc`), by field path. */
export function malformedValues(desc: DescMessage, message: Message): Malformed[] {
  const found: Malformed[] = [];
  if (mayHoldTimestamp(desc)) walk(desc, message as unknown as Record<string, unknown>, "", found, 0);
  return found;
}

const holdsTimestamp = new WeakMap<DescMessage, boolean>();

/** Whether a message of this type can hold a Timestamp at any depth (most requests cannot: nothing to walk). */
function mayHoldTimestamp(desc: DescMessage, visiting = new Set<DescMessage>()): boolean {
  const known = holdsTimestamp.get(desc);
  if (known !== undefined) return known;
  if (desc.typeName === "google.protobuf.Timestamp") return true;
  if (visiting.has(desc)) return false;
  visiting.add(desc);
  const holds = desc.fields.some((f) => {
    const nested =
      f.fieldKind === "message"
        ? f.message
        : (f.fieldKind === "list" && f.listKind === "message") ||
            (f.fieldKind === "map" && f.mapKind === "message")
          ? f.message
          : undefined;
    return nested !== undefined && mayHoldTimestamp(nested, visiting);
  });
  visiting.delete(desc);
  // A type on a cycle answered "false" for its own recursion only; the outermost answer is the one kept.
  if (visiting.size === 0 || holds) holdsTimestamp.set(desc, holds);
  return holds;
}

function walk(
  desc: DescMessage,
  message: Record<string, unknown>,
  path: string,
  found: Malformed[],
  depth: number,
) {
  if (depth > 32) return;
  if (desc.typeName === "google.protobuf.Timestamp") {
    const seconds = BigInt((message.seconds as bigint | number | undefined) ?? 0);
    const nanos = Number(message.nanos ?? 0);
    if (seconds < MIN_SECONDS || seconds > MAX_SECONDS)
      found.push({ field: path, description: "timestamp outside 0001-01-01 … 9999-12-31" });
    else if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999)
      found.push({ field: path, description: "timestamp nanos outside 0 … 999999999" });
    return;
  }
  for (const field of desc.fields) {
    const value = fieldValue(message, field);
    if (value === undefined || value === null) continue;
    const at = path ? `${path}.${field.name}` : field.name;
    if (field.fieldKind === "message")
      walk(field.message, value as Record<string, unknown>, at, found, depth + 1);
    else if (field.fieldKind === "list" && field.listKind === "message")
      (value as Record<string, unknown>[]).forEach((item, i) => {
        walk(field.message, item, `${at}[${i}]`, found, depth + 1);
      });
    else if (field.fieldKind === "map" && field.mapKind === "message")
      for (const [key, item] of Object.entries(value as Record<string, Record<string, unknown>>))
        walk(field.message, item, `${at}[${key}]`, found, depth + 1);
  }
}

function fieldValue(message: Record<string, unknown>, field: DescField): unknown {
  if (!field.oneof) return message[field.localName];
  const chosen = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
  return chosen?.case === field.localName ? chosen.value : undefined;
}

/** Refuses a request holding a malformed value (malformedValues) with INVALID_ARGUMENT and its violations. */
export function wellFormedInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      const malformed = malformedValues(req.method.input, req.message);
      const [first] = malformed;
      if (first)
        throw new ConnectError(`${first.field}: ${first.description}`, Code.InvalidArgument, undefined, [
          {
            desc: ValidationErrorsSchema,
            value: { violations: malformed.map((m) => ({ ...m, legacyKey: "" })) },
          },
        ]);
    }
    return next(req);
  };
}
