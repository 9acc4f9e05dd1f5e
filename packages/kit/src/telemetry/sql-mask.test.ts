import { describe, expect, it } from "vitest";
import { maskSqlLiterals } from "./sql-mask.ts";

describe("maskSqlLiterals", () => {
  it("replaces strings, numbers and hexadecimal literals and keeps identifiers", () => {
    expect(
      maskSqlLiterals(
        "SELECT id FROM ost_api_key WHERE apikey = 'C8F2A61D0B6E4E0C' AND ipaddr = '10.0.0.7' LIMIT 1",
      ),
    ).toBe("SELECT id FROM ost_api_key WHERE apikey = ? AND ipaddr = ? LIMIT ?");
    expect(
      maskSqlLiterals(
        "INSERT INTO `ost__search` (object_type, object_id, title) VALUES ('T', 42, \"Printer\"), ('H', 1.5e3, 0x1F)",
      ),
    ).toBe("INSERT INTO `ost__search` (object_type, object_id, title) VALUES (?, ?, ?), (?, ?, ?)");
    expect(maskSqlLiterals("SELECT t1.id FROM ost_ticket t1 WHERE t1.number = -3")).toBe(
      "SELECT t1.id FROM ost_ticket t1 WHERE t1.number = -?",
    );
  });

  it("hides every character of a string, escaped quotes, backslashes and newlines included", () => {
    const body = String.raw`'It\'s \"broken\" again\\' , 'line one\nline two'`;
    expect(maskSqlLiterals(`VALUES (${body})`)).toBe("VALUES (? , ?)");
    // A quote doubled inside a string (another way MySQL escapes it) leaves two masks, and no text.
    expect(maskSqlLiterals("VALUES ('it''s', X'DEADBEEF')")).toBe("VALUES (??, X?)");
    const batch =
      "INSERT INTO ost_user_email (address) VALUES ('reader@example.com');\nSELECT LAST_INSERT_ID()";
    expect(maskSqlLiterals(batch)).toBe(
      "INSERT INTO ost_user_email (address) VALUES (?);\nSELECT LAST_INSERT_ID()",
    );
  });
});
