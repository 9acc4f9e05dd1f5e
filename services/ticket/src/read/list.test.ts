import { describe, expect, it } from "vitest";
import { booleanQuery } from "./list.ts";

describe("booleanQuery", () => {
  it("keeps plain words and MySQL's boolean operators", () => {
    expect(booleanQuery("printer  broken")).toBe("printer broken");
    expect(booleanQuery("+printer -laser ~old >new <cheap toner*")).toBe(
      "+printer -laser ~old >new <cheap toner*",
    );
    expect(booleanQuery('"paper jam" +"tray 2"')).toBe('"paper jam" +"tray 2"');
  });

  it("quotes words the parser would split or misread, as osTicket quotes e-mail addresses", () => {
    expect(booleanQuery("jane.doe@example.com")).toBe('"jane.doe@example.com"');
    expect(booleanQuery("+wi-fi")).toBe('+"wi-fi"');
  });

  it("drops what would break the query: stray operators, parentheses, unbalanced quotes", () => {
    expect(booleanQuery("- + ~")).toBe("");
    expect(booleanQuery("(printer) broken)")).toBe("printer broken");
    expect(booleanQuery('say "hello')).toBe("say hello");
    expect(booleanQuery("  ")).toBe("");
    expect(booleanQuery("ünïcode wörds")).toBe("ünïcode wörds");
  });
});
