import { isSpanContextValid, trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger, pino } from "pino";

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

/** How deep below the top of a logged object the keys above are still found. */
const REDACT_DEPTH = 6;

export const REDACT_CENSOR = "[REDACTED]";

/** pino redact paths for every key at every depth up to REDACT_DEPTH (`key`, `*.key`, `*.*.key`, ...). */
export function redactPaths(keys: readonly string[] = REDACTED_KEYS, depth = REDACT_DEPTH): string[] {
  const paths: string[] = [];
  for (const key of keys) {
    const access = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
    for (let level = 0; level < depth; level++) {
      const prefix = "*.".repeat(level);
      paths.push(access.startsWith("[") ? `${prefix.replace(/\.$/, "")}${access}` : `${prefix}${access}`);
    }
  }
  return paths;
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
      redact: { paths: redactPaths(), censor: REDACT_CENSOR },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
