/**
 * A search text as SearchTickets hands it to MySQL, by the rules of osTicket 1.18.1's staff quick search
 * (scp/tickets.php, MysqlSearchBackend::find in include/class.search.php): which texts are refused, which
 * search ticket numbers, and which full-text mode the others use (fulltextQuery); and the plan that answers
 * boolean-mode phrases cheaply (searchText).
 *
 * InnoDB answers a phrase ("password reset") by finding every row holding all of its words and then
 * re-reading and re-tokenising each of those rows to check that the words stand side by side: about half a
 * millisecond per row here, seconds for two common words in a large helpdesk. In boolean mode a phrase
 * every match must contain is therefore asked as its words (`+password +reset`, an intersection of two
 * index lists, which also ranks each row exactly as the phrase does) and the side-by-side check is made by
 * a regular expression on the rows the intersection returns. Only phrases whose words InnoDB indexes as
 * they are (plain ASCII words within the token sizes, no stopwords) are rewritten; any other phrase, any
 * phrase a match may lack (an optional or excluded one) and every phrase of a natural-language search
 * (whose scores a boolean rewrite would not keep) is left to InnoDB.
 */
import type { EntityManager } from "@ostmesh/db";
import { query } from "@ostmesh/db";

/** osTicket's refusal of a quick search of four "keywords" or more (scp/tickets.php). */
export const TOO_MANY_KEYWORDS = "Search term cannot have more than 4 keywords";
/** Why a non-numeric text shorter than 3 bytes is refused (osTicket ignores it and lists every ticket). */
export const TOO_SHORT = "query must be at least 3 bytes long unless it is a ticket number";

/** PHP's trim(): spaces, tabs, line ends, NUL and vertical tabs off both ends. */
function phpTrim(text: string): string {
  const blank = (c: string) => " \t\n\r\v".includes(c) || c === String.fromCharCode(0);
  let start = 0;
  let end = text.length;
  while (start < end && blank(text.charAt(start))) start++;
  while (end > start && blank(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * osTicket's mb_str_wc (bootstrap.php): the pieces of the trimmed text split at `[^\p{L}\p{N}'].+`. The
 * `.+` runs to the end of the line (PCRE's `.` stops only at \n), so a one-line text counts at most 2;
 * only a text of several lines reaches 4.
 */
export function keywordCount(text: string): number {
  const trimmed = phpTrim(text);
  return [...trimmed.matchAll(/[^\p{L}\p{N}'][^\n]+/gu)].length + 1;
}

/** PHP 8's is_numeric: an integer or decimal, optional sign and exponent, whitespace around. */
export function isNumeric(text: string): boolean {
  return /^[ \t\n\r\v\f]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[ \t\n\r\v\f]*$/.test(text);
}

/**
 * Why osTicket's quick search would not search `text` as asked, or undefined: four keywords or more
 * (osTicket's refusal, its text), or a non-numeric text under 3 bytes (MysqlSearchBackend::find's minimum,
 * below which osTicket drops the search and lists every ticket).
 */
export function searchRefusal(text: string): string | undefined {
  if (keywordCount(text) >= 4) return TOO_MANY_KEYWORDS;
  if (!isNumeric(text) && Buffer.byteLength(text) < 3) return TOO_SHORT;
  return undefined;
}

export type SearchMode = "boolean" | "natural";

/** MySQL's boolean-mode operators that may lead a term. */
type Operator = "" | "+" | "-" | "~" | "<" | ">";

/**
 * One top-level expression of a boolean-mode query: a word (`[<>~+-]? word [*]?`), a quoted phrase (which
 * osTicket's grammar allows without an operator only) or a parenthesised group, kept as written.
 */
interface Term {
  readonly op: Operator;
  readonly text: string;
  readonly kind: "word" | "phrase" | "group";
}

// osTicket's boolean grammar (MysqlSearchBackend::find): PHP's /u makes \w Unicode letters, digits and _.
const W = "[\\p{L}\\p{N}_]";
const TERM = `[<>~+-]?${W}[\\p{L}\\p{N}_-]*[*]?`;
const QWORD = '"[^"]+"';
const PARENS = `\\((?:${TERM}|${QWORD})(?:\\s+(?:${TERM}|${QWORD}))+\\)`;
const EXPR = `(?:[<>~+-]?${PARENS}|${TERM}|${QWORD})`;
/** The whole text in the grammar (PCRE's `$` also matches before a final newline). */
const BOOLEAN = new RegExp(`^${EXPR}(?:\\s+${EXPR})*\\n?$`, "u");
/** An operator leading the text or a word of it. */
const OPERATOR = /(?:^|\s)["()<>~+-]/u;
const EXPRESSION = new RegExp(`(?<op>[<>~+-]?)(?<body>${PARENS})|(?<word>${TERM})|(?<phrase>${QWORD})`, "gu");

function booleanTerms(text: string): Term[] {
  const terms: Term[] = [];
  for (const m of text.matchAll(EXPRESSION)) {
    const g = m.groups ?? {};
    if (g.body !== undefined) terms.push({ op: (g.op ?? "") as Operator, text: g.body, kind: "group" });
    else if (g.phrase !== undefined) terms.push({ op: "", text: g.phrase.slice(1, -1), kind: "phrase" });
    else {
      const word = g.word ?? "";
      const op = (/^[<>~+-]/.test(word) ? word[0] : "") as Operator;
      terms.push({ op, text: word.slice(op.length), kind: "word" });
    }
  }
  return terms;
}

function render(term: Term): string {
  return term.kind === "phrase" ? `${term.op}"${term.text}"` : `${term.op}${term.text}`;
}

/**
 * The MATCH text and mode osTicket's MysqlSearchBackend::find uses for `text`: boolean mode only when an
 * operator leads the text or one of its words and the whole text is in its boolean grammar (words of
 * letters, digits, `_` and `-`, quoted phrases, groups of two or more terms in parentheses), natural
 * language mode otherwise. Either way `:<digits>` loses its colon, as osTicket strips it. (osTicket's
 * quoting of e-mail addresses in boolean mode never applies: its grammar has no `@` outside quotes.)
 */
export function fulltextQuery(text: string): { mode: SearchMode; match: string } {
  const boolean = OPERATOR.test(text) && BOOLEAN.test(text);
  return { mode: boolean ? "boolean" : "natural", match: text.replace(/:(\d+)/g, "$1") };
}

/** What InnoDB's FULLTEXT parser leaves out of its index (innodb_ft_* settings and the stopword list). */
export interface FulltextRules {
  readonly minTokenSize: number;
  readonly maxTokenSize: number;
  /** Lower case. */
  readonly stopwords: ReadonlySet<string>;
}

/**
 * osTicket's Validator::is_emailish: an `@` with two characters before or after it on its line. PHP tests
 * it without /u, so characters are bytes there (`é@` passes).
 */
export function isEmailish(text: string): boolean {
  return /[^\n]{2}@|@[^\n]{2}/.test(Buffer.from(text, "utf8").toString("latin1"));
}

/** SearchTickets' search: the MATCH text and mode, ticket numbers, and phrase checks. */
export interface SearchText {
  /** MATCH (title, content) AGAINST (match IN <mode> MODE); empty: no full-text search (a number's). */
  readonly match: string;
  readonly mode: SearchMode;
  /** The text, trimmed: an exact ticket number outranks every text match. */
  readonly number: string;
  /** A numeric text: osTicket's quick search looks only for ticket numbers containing it. */
  readonly numberContains: string;
  /** Regular expressions (MariaDB REGEXP, PCRE) an index row's title or content must match, each. */
  readonly phrases: readonly string[];
  /**
   * An e-mail-like text: osTicket's quick search looks only for tickets whose requester has an address equal
   * to it (a valid address) or containing it (no full-text search).
   */
  readonly requesterAddress?: { readonly text: string; readonly exact: boolean };
}

/** Characters InnoDB's tokeniser keeps inside a word. */
const WORD_CHAR = "[\\p{L}\\p{N}_]";
const NON_WORD = "[^\\p{L}\\p{N}_]";

/**
 * A phrase's words side by side, as InnoDB's phrase check sees them: whole tokens, separated by anything
 * that is not a word character. The comparison is the column's: REGEXP is case-insensitive under osTicket's
 * utf8_general_ci, but not accent-insensitive as the collation is, so each letter also accepts any one
 * non-ASCII character (the collation folds accented letters one to one). That can only let a row through
 * that the phrase would not match, never hold one back; the words themselves are still required by MATCH.
 */
function phrasePattern(words: readonly string[]): string {
  const letters = (word: string) =>
    [...word].map((c) => (/[A-Za-z]/.test(c) ? `(?:${c}|[^\\x00-\\x7F])` : c)).join("");
  return `(?<!${WORD_CHAR})${words.map(letters).join(`${NON_WORD}+`)}(?!${WORD_CHAR})`;
}

/** The words of a phrase that can be asked as required words, or undefined if InnoDB would not index one. */
function indexedWords(phrase: string, rules: FulltextRules): string[] | undefined {
  const words = phrase.split(/\s+/);
  if (words.length < 2) return undefined;
  for (const word of words)
    if (
      !/^[A-Za-z0-9_]+$/.test(word) ||
      word.length < rules.minTokenSize ||
      word.length > rules.maxTokenSize ||
      rules.stopwords.has(word.toLowerCase())
    )
      return undefined;
  return words;
}

/**
 * The search for `text` (one searchRefusal lets through). An e-mail-like text is a search of the requester's
 * addresses and a numeric text one of ticket numbers, as in osTicket's quick search (`user__emails__address`
 * equal when the text is a valid address, else contains; `number contains`; neither searches full text).
 * `validAddress` is Validator::is_valid_email's verdict on the text (decided by the caller, as it may look
 * the domain up). Without `rules` (the server's FULLTEXT settings could not be read) every phrase stays
 * InnoDB's; the match is then exactly fulltextQuery's.
 */
export function searchText(text: string, rules: FulltextRules | undefined, validAddress = false): SearchText {
  if (isEmailish(text))
    return {
      match: "",
      mode: "natural",
      number: "",
      numberContains: "",
      phrases: [],
      requesterAddress: { text, exact: validAddress },
    };
  if (isNumeric(text)) {
    const digits = text.trim();
    return { match: "", mode: "natural", number: digits, numberContains: digits, phrases: [] };
  }
  const { mode, match } = fulltextQuery(text);
  const plain = { match, mode, number: text.trim(), numberContains: "", phrases: [] };
  if (mode === "natural" || !rules) return plain;
  const terms = booleanTerms(match);
  // A phrase every match must contain: the one positive term when all the others are exclusions (boolean
  // mode then matches rows that have it; osTicket's grammar gives phrases no operator of their own).
  const positive = terms.filter((t) => t.op !== "-");
  const phrases: string[] = [];
  const parts: string[] = [];
  for (const term of terms) {
    const words =
      term.kind === "phrase" && positive.length === 1 ? indexedWords(term.text, rules) : undefined;
    if (!words) {
      parts.push(render(term));
      continue;
    }
    parts.push(...words.map((w) => `+${w}`));
    phrases.push(phrasePattern(words));
  }
  if (phrases.length === 0) return plain;
  return { ...plain, match: parts.join(" "), phrases };
}

/** InnoDB's built-in stopword list (information_schema.INNODB_FT_DEFAULT_STOPWORD, readable only with PROCESS). */
const INNODB_DEFAULT_STOPWORDS = new Set(
  "a about an are as at be by com de en for from how i in is it la of on or that the this to und was what when where who will with www".split(
    " ",
  ),
);

/**
 * The server's FULLTEXT rules. A stopword table of the server's own adds to the built-in list (the list an
 * index was built with is not readable, so a word on either is never asked for as a required word); when
 * that table cannot be read the answer is undefined and every phrase stays InnoDB's.
 */
export async function loadFulltextRules(em: EntityManager): Promise<FulltextRules | undefined> {
  const [settings] = await query(
    em,
    "SELECT @@innodb_ft_min_token_size AS min_size, @@innodb_ft_max_token_size AS max_size," +
      " @@innodb_ft_server_stopword_table AS stopword_table",
  );
  if (!settings) return undefined;
  const stopwords = new Set(INNODB_DEFAULT_STOPWORDS);
  const table = settings.stopword_table ? String(settings.stopword_table) : "";
  if (table) {
    const [schema, name] = table.split("/");
    if (!schema || !name) return undefined;
    const quote = (id: string) => `\`${id.replaceAll("`", "``")}\``;
    try {
      const rows = await query(em, `SELECT value FROM ${quote(schema)}.${quote(name)}`);
      for (const r of rows) stopwords.add(String(r.value).toLowerCase());
    } catch {
      return undefined;
    }
  }
  return { minTokenSize: Number(settings.min_size), maxTokenSize: Number(settings.max_size), stopwords };
}
