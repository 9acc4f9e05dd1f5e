/**
 * A small typed schema for environment variables. Each field names the variable it reads, parses and
 * validates it, and either yields a typed value or a problem that names the variable. `loadConfig` collects
 * every problem, so a bad start-up says everything that is wrong in one line.
 *
 *   const config = loadConfig((read) => ({
 *     port: read(env.port("TICKET_PORT").default(50051)),
 *     databaseUrl: read(env.url("DATABASE_URL")),           // required: no default
 *   }));                                                     // { port: number; databaseUrl: string }
 *
 * The builder form keeps every value typed without casts and lets one value's default depend on another.
 * An empty value counts as unset (twelve-factor: `FOO=` in an env file means "not configured").
 */

export type EnvSource = Readonly<Record<string, string | undefined>>;

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

/** One configuration value: where it comes from, how it is parsed, what happens when it is missing. */
export class Field<T> {
  readonly names: readonly string[];
  readonly expected: string;
  /** A value of the right type handed back while problems are being collected; never returned to callers. */
  readonly placeholder: T;
  readonly #parse: (raw: string) => Parsed<T>;
  readonly #missing: () => Parsed<T>;

  constructor(
    names: readonly string[],
    expected: string,
    placeholder: T,
    parse: (raw: string) => Parsed<T>,
    missing?: () => Parsed<T>,
  ) {
    this.names = names;
    this.expected = expected;
    this.placeholder = placeholder;
    this.#parse = parse;
    this.#missing = missing ?? (() => bad(`is required (${expected})`));
  }

  /** Value used when the variable is unset. */
  default(value: T): Field<T> {
    return new Field(this.names, this.expected, this.placeholder, this.#parse, () => ok(value));
  }

  /** Unset is fine and yields `undefined`. */
  optional(): Field<T | undefined> {
    return new Field<T | undefined>(this.names, this.expected, undefined, this.#parse, () => ok(undefined));
  }

  /** Also read `name` when the earlier names are unset (e.g. OSTMESH_TRACE_RATIO, then OTEL_TRACES_SAMPLER_ARG). */
  or(name: string): Field<T> {
    return new Field([...this.names, name], this.expected, this.placeholder, this.#parse, this.#missing);
  }

  /** Further validation of a parsed value; `check` returns a problem text or undefined. */
  refine(check: (value: T) => string | undefined): Field<T> {
    const parse = this.#parse;
    const refined = (raw: string): Parsed<T> => {
      const parsed = parse(raw);
      if (!parsed.ok) return parsed;
      const problem = check(parsed.value);
      return problem === undefined ? parsed : bad(problem);
    };
    return new Field(this.names, this.expected, this.placeholder, refined, this.#missing);
  }

  /** Reads the field: `{ value }` or `{ variable, problem }`. */
  read(source: EnvSource): { ok: true; value: T } | { ok: false; variable: string; problem: string } {
    for (const name of this.names) {
      const raw = source[name];
      if (raw === undefined || raw.trim() === "") continue;
      const parsed = this.#parse(raw.trim());
      if (parsed.ok) return parsed;
      return { ok: false, variable: name, problem: `${parsed.problem}, got ${JSON.stringify(raw)}` };
    }
    const fallback = this.#missing();
    if (fallback.ok) return fallback;
    return { ok: false, variable: this.names.join(" or "), problem: fallback.problem };
  }
}

function parseInteger(raw: string): number | undefined {
  if (!/^[+-]?\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Field constructors, one per kind of value. */
export const env = {
  string(name: string, options: { pattern?: RegExp; expected?: string } = {}): Field<string> {
    const expected = options.expected ?? "a string";
    return new Field([name], expected, "", (raw) =>
      options.pattern && !options.pattern.test(raw) ? bad(`must be ${expected}`) : ok(raw),
    );
  },

  int(name: string, options: { min?: number; max?: number } = {}): Field<number> {
    const min = options.min ?? Number.MIN_SAFE_INTEGER;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    const expected =
      options.min !== undefined || options.max !== undefined ? `an integer ${min}..${max}` : "an integer";
    return new Field([name], expected, 0, (raw) => {
      const value = parseInteger(raw);
      return value === undefined || value < min || value > max ? bad(`must be ${expected}`) : ok(value);
    });
  },

  number(name: string, options: { min?: number; max?: number } = {}): Field<number> {
    const min = options.min ?? -Infinity;
    const max = options.max ?? Infinity;
    const expected =
      options.min !== undefined || options.max !== undefined ? `a number ${min}..${max}` : "a number";
    return new Field([name], expected, 0, (raw) => {
      const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw) ? Number(raw) : Number.NaN;
      return Number.isFinite(value) && value >= min && value <= max ? ok(value) : bad(`must be ${expected}`);
    });
  },

  port(name: string): Field<number> {
    return new Field([name], "a TCP port 0..65535", 0, (raw) => {
      const value = parseInteger(raw);
      return value === undefined || value < 0 || value > 65535
        ? bad("must be a TCP port 0..65535")
        : ok(value);
    });
  },

  /** An absolute URL; `protocols` like ["http:", "https:"] limits the scheme. Yields the URL text. */
  url(name: string, options: { protocols?: readonly string[] } = {}): Field<string> {
    const protocols = options.protocols;
    const expected = protocols ? `a ${protocols.map((p) => p.replace(/:$/, "")).join("/")} URL` : "a URL";
    return new Field([name], expected, "", (raw) => {
      if (!URL.canParse(raw)) return bad(`must be ${expected}`);
      const url = new URL(raw);
      if (protocols && !protocols.includes(url.protocol)) return bad(`must be ${expected}`);
      if (url.host === "" && url.protocol !== "file:") return bad(`must be ${expected} with a host`);
      return ok(raw);
    });
  },

  enum<const V extends string>(name: string, values: readonly [V, ...V[]]): Field<V> {
    const expected = `one of ${values.join(", ")}`;
    return new Field([name], expected, values[0], (raw) => {
      const found = values.find((v) => v === raw.toLowerCase());
      return found === undefined ? bad(`must be ${expected}`) : ok(found);
    });
  },

  bool(name: string): Field<boolean> {
    return new Field([name], "true or false", false, (raw) => {
      const v = raw.toLowerCase();
      if (["true", "1", "yes", "on"].includes(v)) return ok(true);
      if (["false", "0", "no", "off"].includes(v)) return ok(false);
      return bad("must be true or false");
    });
  },

  /** A duration like `500ms`, `10s`, `2m`, `1h`; a bare number means milliseconds. Yields milliseconds. */
  duration(name: string, options: { min?: number; max?: number } = {}): Field<number> {
    const expected = "a duration like 500ms, 10s, 2m";
    return new Field([name], expected, 0, (raw) => {
      const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(raw);
      const amount = match?.[1];
      if (amount === undefined) return bad(`must be ${expected}`);
      const value = Math.round(Number(amount) * (DURATION_UNITS[(match?.[2] ?? "ms").toLowerCase()] ?? 1));
      if (options.min !== undefined && value < options.min) return bad(`must be at least ${options.min}ms`);
      if (options.max !== undefined && value > options.max) return bad(`must be at most ${options.max}ms`);
      return ok(value);
    });
  },

  /** A size like `4MiB`, `512KiB`, `1048576`; units are binary (k = KiB). Yields bytes. */
  bytes(name: string, options: { min?: number; max?: number } = {}): Field<number> {
    const expected = "a size like 1048576, 512KiB, 4MiB";
    return new Field([name], expected, 0, (raw) => {
      const match = /^(\d+)\s*([a-z]*)$/i.exec(raw);
      const factor = BYTE_UNITS[(match?.[2] ?? "?").toLowerCase()];
      if (!match?.[1] || factor === undefined) return bad(`must be ${expected}`);
      const value = Number(match[1]) * factor;
      if (!Number.isSafeInteger(value)) return bad(`must be ${expected}`);
      if (options.min !== undefined && value < options.min)
        return bad(`must be at least ${options.min} bytes`);
      if (options.max !== undefined && value > options.max)
        return bad(`must be at most ${options.max} bytes`);
      return ok(value);
    });
  },

  /** A comma-separated list of one of `values`, without duplicates. */
  list<const V extends string>(name: string, values: readonly V[]): Field<V[]> {
    const expected = `a comma-separated list of ${values.join(", ")}`;
    return new Field<V[]>([name], expected, [], (raw) => {
      const items: V[] = [];
      for (const part of raw.split(",")) {
        const item = part.trim().toLowerCase();
        if (item === "") continue;
        const found = values.find((v) => v === item);
        if (found === undefined) return bad(`must be ${expected} (unknown "${item}")`);
        if (!items.includes(found)) items.push(found);
      }
      return items.length === 0 ? bad(`must be ${expected}`) : ok(items);
    });
  },
};

/** Every problem found while loading a configuration. `message` is one line naming each variable. */
export class ConfigError extends Error {
  readonly problems: readonly { variable: string; problem: string }[];

  constructor(problems: readonly { variable: string; problem: string }[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable} ${p.problem}`).join("; ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Reads one field; see loadConfig. */
export type ReadField = <T>(field: Field<T>) => T;

/**
 * Builds a configuration with `build`, reading each field through `read`. Problems are collected (a bad
 * field yields a placeholder while the rest are read) and thrown together as one ConfigError.
 */
export function loadConfig<C>(build: (read: ReadField) => C, source: EnvSource = process.env): C {
  const problems: { variable: string; problem: string }[] = [];
  const read: ReadField = (field) => {
    const result = field.read(source);
    if (result.ok) return result.value;
    problems.push({ variable: result.variable, problem: result.problem });
    return field.placeholder;
  };
  const config = build(read);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** EX_CONFIG from sysexits.h: the configuration is wrong. */
export const EXIT_CONFIG = 78;

/**
 * Runs `load`; on a ConfigError prints its one line to stderr and exits with 78 (EX_CONFIG), so a process
 * manager shows exactly which variable is wrong.
 */
export function configOrExit<T>(load: () => T, processName = "ostmesh"): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${processName}: ${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
}
