import { describe, expect, it } from "vitest";
import { pregMatch } from "./pcre.ts";

describe("pregMatch answers as PHP's preg_match does", () => {
  it("takes the delimiters and modifiers from the pattern", () => {
    expect(pregMatch("/viagra/i", "Buy VIAGRA now")).toBe(1);
    expect(pregMatch("/viagra/", "Buy VIAGRA now")).toBe(0);
    expect(pregMatch("#a/b#", "x a/b y")).toBe(1);
    expect(pregMatch("{a{1}b}", "ab")).toBe(1);
    expect(pregMatch("(x(y)z)", "xyz")).toBe(1);
    expect(pregMatch("  /lead/", "leading spaces")).toBe(1);
    expect(pregMatch("/a\\/b/", "a/b")).toBe(1);
    expect(pregMatch("/x/i \n", "X")).toBe(1);
  });

  it("gives up on catastrophic backtracking as PCRE does at its backtrack limit: false, in bounded time", () => {
    const started = performance.now();
    expect(pregMatch("/^(a+)+$/", `${"a".repeat(64)}!`)).toBe(false);
    // Without a limit this match would run for far longer than the test's own timeout.
    expect(performance.now() - started).toBeLessThan(2000);
    // The same pattern still answers where it does not backtrack.
    expect(pregMatch("/^(a+)+$/", "aaaa")).toBe(1);
  });

  it("refuses what PHP refuses: false", () => {
    expect(pregMatch("viagra", "viagra")).toBe(false);
    expect(pregMatch("\\viagra\\", "viagra")).toBe(false);
    expect(pregMatch("", "x")).toBe(false);
    expect(pregMatch("/open", "open")).toBe(false);
    expect(pregMatch("/a/k", "a")).toBe(false);
    expect(pregMatch("/a/e", "a")).toBe(false);
    expect(pregMatch("/(a/", "a")).toBe(false);
    expect(pregMatch("/a\\qb/", "aqb")).toBe(false);
    expect(pregMatch("/*a/", "a")).toBe(false);
  });

  it("answers false for PCRE syntax it does not translate", () => {
    expect(pregMatch("/a++/", "aaa")).toBe(false);
    expect(pregMatch("/(?>a)/", "a")).toBe(false);
    expect(pregMatch("/(?i)a/", "A")).toBe(false);
    expect(pregMatch("/[[:alpha:]]/", "a")).toBe(false);
    expect(pregMatch("/a/U", "a")).toBe(false);
  });

  it("keeps PCRE's anchors, dot and escapes", () => {
    expect(pregMatch("/^abc$/", "abc\n")).toBe(1);
    expect(pregMatch("/^abc$/D", "abc\n")).toBe(0);
    expect(pregMatch("/^b$/", "a\nb\nc")).toBe(0);
    expect(pregMatch("/^b$/m", "a\nb\nc")).toBe(1);
    expect(pregMatch("/^b$/m", "a\r\nb\r\nc")).toBe(0);
    expect(pregMatch("/a.c/", "a\rc")).toBe(1);
    expect(pregMatch("/a.c/", "a\nc")).toBe(0);
    expect(pregMatch("/a.c/s", "a\nc")).toBe(1);
    expect(pregMatch("/\\Aab\\z/", "ab")).toBe(1);
    expect(pregMatch("/\\Aab\\z/", "ab\n")).toBe(0);
    expect(pregMatch("/\\Aab\\Z/", "ab\n")).toBe(1);
    expect(pregMatch("/b/A", "ab")).toBe(0);
    expect(pregMatch("/a/A", "ab")).toBe(1);
    expect(pregMatch("/[]a]/", "]")).toBe(1);
    expect(pregMatch("/a{2}/", "aa")).toBe(1);
    expect(pregMatch("/a{x/", "a{x")).toBe(1);
    expect(pregMatch("/\\x41/", "A")).toBe(1);
    expect(pregMatch("/\\Qa.b\\E/", "axb")).toBe(0);
    expect(pregMatch("/\\Qa.b\\E/", "a.b")).toBe(1);
    expect(pregMatch("/(?P<w>ab)c/", "abc")).toBe(1);
    expect(pregMatch("/a b # comment\n c/x", "abc")).toBe(1);
  });

  it("works on bytes without u, on characters with it", () => {
    expect(pregMatch("/^.$/", "é")).toBe(0);
    expect(pregMatch("/^..$/", "é")).toBe(1);
    expect(pregMatch("/^.$/u", "é")).toBe(1);
    // Without u, case folding is ASCII only (PCRE's C tables); with u it is Unicode.
    expect(pregMatch("/É/i", "é")).toBe(0);
    expect(pregMatch("/É/iu", "é")).toBe(1);
    expect(pregMatch("/\\w/", "é")).toBe(0);
    expect(pregMatch("/\\w/u", "é")).toBe(1);
    expect(pregMatch("/\\bcafé\\b/u", "un café noir")).toBe(1);
    expect(pregMatch("/caf\\xc3\\xa9/", "café")).toBe(1);
    expect(pregMatch("/\\x{e9}/u", "é")).toBe(1);
  });
});
