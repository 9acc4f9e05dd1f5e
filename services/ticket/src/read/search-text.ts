/**
 * A search text as SearchTickets hands it to MySQL: osTicket's boolean-mode query (booleanQuery), and the
 * plan that answers its phrases cheaply (searchText).
 *
 * InnoDB answers a phrase ("password reset") by finding every row holding all of its words and then
 * re-reading and re-tokenising each of those rows to check that the words stand side by side: about half a
 * millisecond per row here, seconds for two common words in a large helpdesk. A phrase every match must
 * contain is therefore asked as its words (`+password +reset`, an intersection of two index lists, which
 * also ranks each row exactly as the phrase does) and the side-by-side check is made by a regular
 * expression on the rows the intersection returns. Only phrases whose words InnoDB indexes as they are
 * (plain ASCII words within the token sizes, no stopwords) are rewritten; any other phrase, and any phrase
 * a match may lack (an optional or excluded one), is left to InnoDB.
 */
import type { EntityManager } from "@ostmesh/db";
import { query } from "@ostmesh/db";

/** MySQL's boolean-mode operators that may lead a term. */
type Operator = "" | "+" | "-" | "~" | "<" | ">";

/** One term of a boolean-mode query: a word (with an optional trailing `*`) or a quoted phrase. */
interface Term {
  readonly op: Operator;
  readonly text: string;
  readonly quoted: boolean;
}

const WORD = /^[\p{L}\p{N}_]+$/u;

function booleanTerms(text: string): Term[] {
  // MySQL's boolean grammar: [<>~+-]? word [*]? | "phrase" | [<>~+-]?( ... ). Anything else in the text
  // (punctuation, unbalanced quotes) would either be an error or silently change the meaning, so the text
  // is rebuilt from its terms: operators are kept where the grammar allows them, words with characters the
  // parser treats as operators (e-mail addresses, hyphenated words) become phrases, as osTicket quotes them.
  const terms: Term[] = [];
  const re = /([+\-~<>]?)"([^"]*)"|([+\-~<>]?)([^\s"()]+)/gu;
  for (const m of text.matchAll(re)) {
    if (m[2] !== undefined) {
      const phrase = m[2].replace(/[^\p{L}\p{N}_@.'\s-]/gu, " ").trim();
      if (phrase) terms.push({ op: (m[1] ?? "") as Operator, text: phrase, quoted: true });
      continue;
    }
    const op = (m[3] ?? "") as Operator;
    const raw = m[4] ?? "";
    const star = raw.endsWith("*");
    const word = raw.replace(/\*+$/, "");
    const parts = word.split(/[^\p{L}\p{N}_]+/u).filter(Boolean);
    if (parts.length === 0) continue;
    if (parts.length === 1 && WORD.test(word))
      terms.push({ op, text: `${word}${star ? "*" : ""}`, quoted: false });
    else terms.push({ op, text: word, quoted: true });
  }
  return terms;
}

function render(term: Term): string {
  return term.quoted ? `${term.op}"${term.text}"` : `${term.op}${term.text}`;
}

/** A search text as osTicket's MySQL search backend feeds it to MATCH ... AGAINST in boolean mode. */
export function booleanQuery(text: string): string {
  return booleanTerms(text).map(render).join(" ");
}

/** What InnoDB's FULLTEXT parser leaves out of its index (innodb_ft_* settings and the stopword list). */
export interface FulltextRules {
  readonly minTokenSize: number;
  readonly maxTokenSize: number;
  /** Lower case. */
  readonly stopwords: ReadonlySet<string>;
}

/** SearchTickets' search: the MATCH text, the text as a possible ticket number, and phrase checks. */
export interface SearchText {
  /** Boolean-mode query for MATCH (title, content) AGAINST (? IN BOOLEAN MODE). */
  readonly match: string;
  /** The raw text, trimmed: an exact ticket number outranks every text match. */
  readonly number: string;
  /** Regular expressions (MariaDB REGEXP, PCRE) an index row's title or content must match, each. */
  readonly phrases: readonly string[];
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
 * The search for `text`. Without `rules` (the server's FULLTEXT settings could not be read) every phrase
 * stays InnoDB's; the match is then exactly booleanQuery(text).
 */
export function searchText(text: string, rules: FulltextRules | undefined): SearchText {
  const terms = booleanTerms(text);
  // A term every match must contain: a `+` term, or the one term without an operator when all the others
  // are exclusions (boolean mode then matches rows that have it).
  const positive = terms.filter((t) => t.op !== "-");
  const required = (t: Term) => t.op === "+" || (t.op === "" && positive.length === 1);
  const phrases: string[] = [];
  const parts: string[] = [];
  for (const term of terms) {
    const words = rules && term.quoted && required(term) ? indexedWords(term.text, rules) : undefined;
    if (!words) {
      parts.push(render(term));
      continue;
    }
    parts.push(...words.map((w) => `+${w}`));
    phrases.push(phrasePattern(words));
  }
  return { match: parts.join(" "), number: text.trim(), phrases };
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
