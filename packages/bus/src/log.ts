import { type Logger, pino } from "pino";

export type { Logger };

/** The logger bus components use when the caller passes none (processes normally pass kit's logger). */
export function defaultLogger(component: string): Logger {
  return pino({ name: `bus.${component}`, level: process.env.LOG_LEVEL ?? "info" });
}

/** A short, single-line description of an error for logs and `last_error`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = "code" in error && error.code !== undefined ? ` [${String(error.code)}]` : "";
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.name}${code}: ${error.message}${cause}`.replace(/\s+/g, " ");
  }
  return String(error);
}
