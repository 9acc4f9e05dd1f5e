import { isSpanContextValid, trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger, pino } from "pino";
import { maskSqlLiterals } from "../telemetry/sql-mask.ts";

export type { Logger };

/**
 * Keys whose values never reach a log line, wherever they sit in a logged object: passwords, API keys
 * (osTicket's X-API-Key header and the usual spellings), OAuth/OIDC tokens, session cookies and the
 * Authorization header. Matching is per spelling, so both the HTTP/1 (`Authorization`) and the lower-case
 * HTTP/2 and Node (`authorization`) forms are listed.
 */
export const REDACTED_KEYS: readonly string[] = [
  "password",
  "passwd",
  "newPassword",
  "new_password",
  "currentPassword",
  "current_password",
  "secret",
  "clientSecret",
  "client_secret",
  "apikey",
  "apiKey",
  "api_key",
  "x-api-key",
  "X-API-Key",
  "X-Api-Key",
  "token",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "idToken",
  "id_token",
  "authorization",
  "Authorization",
  "proxy-authorization",
  "cookie",
  "Cookie",
  "set-cookie",
  "Set-Cookie",
];

export const REDACT_CENSOR = "[REDACTED]";

const REDACTED = new Set(REDACTED_KEYS);
const KEY_ALTERNATIVES = REDACTED_KEYS.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
/** Finds a line that may hold one of the keys (`"password":`); in a string value the quotes are escaped. */
const MAY_HOLD_SECRET = new RegExp(`"(?:${KEY_ALTERNATIVES})":`);
/** A key of the list with its value (a string, or anything up to the next `,`/`}`/`]`), for lines JSON cannot read. */
const KEY_AND_VALUE = new RegExp(`("(?:${KEY_ALTERNATIVES})":)("(?:[^"\\\\]|\\\\.)*"|[^,}\\]]*)`, "g");

/**
 * Redacts a written JSON line: the value of every key of REDACTED_KEYS, at any depth (bindings, logged
 * objects, serialized errors alike), becomes REDACT_CENSOR. A line without any of the keys is returned
 * unchanged after one scan; one with them is parsed, censored and written again. (Cheaper by far than
 * pino's path-based `redact`, whose wildcard paths cost hundreds of microseconds per line and per child
 * logger.)
 */
export function redactLine(line: string): string {
  if (!MAY_HOLD_SECRET.test(line)) return line;
  const newline = line.endsWith("\n");
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // Not one JSON value (never so for pino's lines): censor textually rather than let a secret through.
    return line.replace(KEY_AND_VALUE, `$1${JSON.stringify(REDACT_CENSOR)}`);
  }
  return JSON.stringify(censor(value)) + (newline ? "\n" : "");
}

function censor(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(censor);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value))
    out[key] = REDACTED.has(key) ? REDACT_CENSOR : censor(inner);
  return out;
}

export interface LoggerOptions {
  /** `service` field of every line (the process or service name). */
  service: string;
  level?: string;
  /** Where lines go; stdout by default (tests pass a stream to read them back). */
  destination?: DestinationStream;
}

/**
 * A pino logger writing JSON lines with the service name, ISO time, and trace_id/span_id of the OTel span
 * active when the line is written, so logs and traces join up.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: "msg",
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const span = trace.getActiveSpan();
        if (span === undefined) return {};
        const ctx = span.spanContext();
        return isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
      },
      hooks: { streamWrite: redactLine },
      serializers: { err: serializeError, error: serializeError },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * pino's error serializer, with a failed statement's SQL masked (`sql`, which mysql2 keeps on its errors with
 * the values formatted in: API keys looked up by value, addresses, message bodies) wherever it sits in the
 * serialized error: on the error itself, on the errors it carries (an AggregateError's `aggregateErrors`, an
 * error-valued field). The server's own message stays as it is.
 */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized: unknown = pino.stdSerializers.err(error);
  maskStatements(serialized, 0);
  return serialized;
}

function maskStatements(value: unknown, depth: number): void {
  if (typeof value !== "object" || value === null || depth > 8) return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === "sql" && typeof inner === "string") Reflect.set(value, key, maskSqlLiterals(inner));
    else maskStatements(inner, depth + 1);
  }
}
