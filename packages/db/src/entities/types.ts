import { type Platform, Type } from "@mikro-orm/core";

/**
 * DATETIME, TIMESTAMP, DATE and TIME columns as the strings MySQL returns (`2024-05-01 13:45:00`),
 * never JS Dates: osTicket writes them in the DB server's zone without any zone marker, and stores
 * `0000-00-00 00:00:00` for "never", which no Date can hold. Write values as `YYYY-MM-DD HH:MM:SS` in the
 * server's zone (see serverTime) or set them with NOW() in SQL.
 */
export class DbDateTime extends Type<string, string> {
  override convertToDatabaseValue(value: string): string {
    return value;
  }

  override convertToJSValue(value: string | Date): string {
    return typeof value === "string" || value == null ? value : formatLocal(value);
  }

  override getColumnType(prop: { columnTypes?: string[] }, _platform: Platform): string {
    return prop.columnTypes?.[0] ?? "datetime";
  }

  override compareAsType(): string {
    return "string";
  }

  override get runtimeType(): string {
    return "string";
  }
}

/** A Date's wall-clock time in this process's zone, for drivers that hand back Dates anyway. */
function formatLocal(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
