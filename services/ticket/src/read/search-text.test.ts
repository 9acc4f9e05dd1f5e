import { describe, expect, it } from "vitest";
import {
  fulltextQuery,
  isEmailish,
  isNumeric,
  keywordCount,
  searchRefusal,
  searchText,
  TOO_MANY_KEYWORDS,
  TOO_SHORT,
} from "./search-text.ts";

describe("fulltextQuery: osTicket's choice of mode", () => {
  it("uses natural language mode without an operator, hyphenated words and addresses included", () => {
    for (const text of ["printer broken", "e-mail", "wi-fi router", "jane.doe@example.com", "ünïcode wörds"])
      expect(fulltextQuery(text)).toEqual({ mode: "natural", match: text });
  });

  it("uses boolean mode when an operator leads the text or a word and the text is in the grammar", () => {
    for (const text of [
      "+printer -laser ~old >new <cheap toner*",
      "+printer +toner",
      '"paper jam"',
      '"paper jam" -toner',
      "printer -e-mail",
      "(printer toner) -laser",
      "-(printer toner) laser",
      "+wörd -ünï",
    ])
      expect(fulltextQuery(text)).toEqual({ mode: "boolean", match: text });
  });

  it("falls back to natural language mode when the text breaks the grammar", () => {
    for (const text of [
      '+"paper jam"', // an operator before a phrase
      "+printer broken.", // punctuation
      "(printer) broken", // a group of one term
      '"paper jam', // unbalanced quote
      "+jane@example.com",
      "- + ~",
    ])
      expect(fulltextQuery(text).mode, text).toBe("natural");
  });

  it("strips the colon of :<digits> in either mode", () => {
    expect(fulltextQuery("ticket:12 printer").match).toBe("ticket12 printer");
    expect(fulltextQuery('"ticket:12"')).toEqual({ mode: "boolean", match: '"ticket12"' });
  });
});

describe("osTicket's quick-search rules", () => {
  it("counts keywords as mb_str_wc does: at most 2 on one line", () => {
    expect(keywordCount("one")).toBe(1);
    expect(keywordCount("one two three four five")).toBe(2);
    expect(keywordCount("e-mail")).toBe(2);
    expect(keywordCount("don't")).toBe(1);
    expect(keywordCount("a\nb\nc\nd")).toBe(4);
    expect(keywordCount("a b\nc d\ne f\ng h")).toBe(5);
    expect(keywordCount("x\r\ny\r\nz")).toBe(3);
    expect(keywordCount("  one two  \n")).toBe(2);
  });

  it("takes numbers as PHP's is_numeric does", () => {
    for (const text of ["8316", " 12", "12 ", "1e3", "12.5", "-5", "+5", ".5", "5."])
      expect(isNumeric(text), text).toBe(true);
    for (const text of ["0x1A", "1_000", "12a", "", " ", "1 2", "e3"])
      expect(isNumeric(text), text).toBe(false);
  });

  it("refuses four keywords or more, and a non-numeric text under 3 bytes", () => {
    expect(searchRefusal("a\nb\nc\nd")).toBe(TOO_MANY_KEYWORDS);
    expect(searchRefusal("one two three four five six")).toBeUndefined();
    expect(searchRefusal("ab")).toBe(TOO_SHORT);
    expect(searchRefusal("é")).toBe(TOO_SHORT);
    expect(searchRefusal("éa")).toBeUndefined(); // 3 bytes
    expect(searchRefusal("abc")).toBeUndefined();
    expect(searchRefusal("12")).toBeUndefined();
    expect(searchRefusal("7")).toBeUndefined();
  });
});

describe("searchText", () => {
  const rules = { minTokenSize: 3, maxTokenSize: 84, stopwords: new Set(["the", "with"]) };
  const plan = (text: string) => searchText(text, rules);

  it("searches a number as the ticket numbers containing it, without full text", () => {
    expect(plan("8316")).toEqual({
      match: "",
      mode: "natural",
      number: "8316",
      numberContains: "8316",
      phrases: [],
    });
    expect(plan(" 12 ").numberContains).toBe("12");
    expect(plan("zeta2400").numberContains).toBe("");
  });

  it("asks for a phrase every boolean match must hold as required words, with a check of their order", () => {
    expect(plan('"password reset"')).toMatchObject({
      match: "+password +reset",
      mode: "boolean",
      number: '"password reset"',
    });
    expect(plan('"password reset"').phrases).toHaveLength(1);
    expect(plan('"password reset" -toner').match).toBe("+password +reset -toner");
    expect(plan('"password reset" -toner -(ink paper)').match).toBe("+password +reset -toner -(ink paper)");
  });

  it("leaves to InnoDB a phrase a match may lack, one InnoDB does not index as it is, and natural mode", () => {
    const untouched = [
      '"password reset" printer', // either may match
      '"password reset" (ink paper)',
      '"password reset" "paper jam"',
      '"reset the password"', // stopword
      '"tray 2"', // shorter than the minimum token
      '"café menu"', // the collation folds accents, a regular expression does not
      '"single"',
      '+"password reset"', // natural language mode: InnoDB's phrase, natural scores
      "password-reset",
    ];
    for (const text of untouched)
      expect(plan(text)).toEqual({ ...fulltextQuery(text), number: text, numberContains: "", phrases: [] });
    expect(searchText('"password reset"', undefined)).toMatchObject({
      match: '"password reset"',
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

describe("isEmailish and the requester-address search", () => {
  it("takes an @ with two bytes before or after it on its line, as Validator::is_emailish", () => {
    for (const text of ["x@example.com", "ab@", "@cd", "é@", "line\nab@"])
      expect(isEmailish(text), text).toBe(true);
    for (const text of ["a@b", "a@\nbc", "ab\n@c", "no at sign", "@"])
      expect(isEmailish(text), text).toBe(false);
  });

  it("searches neither full text nor numbers for such a text", () => {
    expect(searchText("jane@example.com", undefined, true)).toEqual({
      match: "",
      mode: "natural",
      number: "",
      numberContains: "",
      phrases: [],
      requesterAddress: { text: "jane@example.com", exact: true },
    });
    expect(searchText("12@34", undefined).requesterAddress).toEqual({ text: "12@34", exact: false });
  });
});
