import { Writable } from "node:stream";
import { type Logger, pino } from "pino";

/** A logger that drops everything (keeps test output readable). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/** A logger that keeps every line it writes, parsed, for assertions. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line.trim()) continue;
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === "object") lines.push({ ...parsed });
      }
      done();
    },
  });
  return { logger: pino({ level: "debug" }, sink), lines };
}
