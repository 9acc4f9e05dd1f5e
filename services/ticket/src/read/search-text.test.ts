import { describe, expect, it } from "vitest";
import { booleanQuery, searchText } from "./search-text.ts";

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

describe("searchText", () => {
  const rules = { minTokenSize: 3, maxTokenSize: 84, stopwords: new Set(["the", "with"]) };
  const plan = (text: string) => searchText(text, rules);

  it("asks for a phrase every match must hold as required words, with a check of their order", () => {
    expect(plan('"password reset"')).toMatchObject({ match: "+password +reset", number: '"password reset"' });
    expect(plan('"password reset"').phrases).toHaveLength(1);
    expect(plan('+"password reset" printer -toner')).toMatchObject({
      match: "+password +reset printer -toner",
    });
    expect(plan('"password reset" -toner').match).toBe("+password +reset -toner");
    expect(plan('+"paper jam" +"tray two"').phrases).toHaveLength(2);
  });

  it("leaves to InnoDB a phrase a match may lack, and one with words InnoDB does not index as they are", () => {
    const untouched = [
      '"password reset" printer', // either may match
      '~"password reset"',
      '-"password reset" printer',
      '"reset the password"', // stopword
      '"tray 2"', // shorter than the minimum token
      '"café menu"', // the collation folds accents, a regular expression does not
      "jane.doe@example.com", // quoted by booleanQuery: "jane.doe@example.com"
      '"single"',
    ];
    for (const text of untouched)
      expect(plan(text)).toEqual({ match: booleanQuery(text), number: text, phrases: [] });
    expect(searchText('"password reset"', undefined)).toEqual({
      match: '"password reset"',
      number: '"password reset"',
      phrases: [],
    });
  });

  it("checks whole words separated by anything but word characters, in any case and accented", () => {
    const [pattern = ""] = plan('"password reset"').phrases;
    // MariaDB's REGEXP is PCRE and case-insensitive under utf8_general_ci; here the flags stand in for that.
    const re = new RegExp(pattern, "iu");
    for (const text of ["password reset", "Password, RESET!", "a password\n\treset b", "pásswörd reset"])
      expect(re.test(text), text).toBe(true);
    for (const text of [
      "passwordreset",
      "password_reset",
      "password a reset",
      "xpassword reset",
      "password resets",
    ])
      expect(re.test(text), text).toBe(false);
  });
});
