/**
 * The few PHP value semantics osTicket's legacy API depends on, reimplemented: request data decoded the
 * way PHP sees it (ordered arrays, ints vs floats), `(bool)` and `(string)` casts, `is_numeric`.
 */

/** A PHP array: ordered keys (JSON lists get "0", "1", ...). */
export type PhpArray = Map<string, PhpValue>;
/** A PHP value as decoded from a JSON or XML request body. */
export type PhpValue = string | PhpNumber | boolean | null | PhpArray;

/** A JSON number keeps whether PHP would hold it as an int or a float: `3` and `3.0` cast differently. */
export interface PhpNumber {
  readonly kind: "int" | "float";
  readonly value: number;
}

export function isPhpArray(value: PhpValue | undefined): value is PhpArray {
  return value instanceof Map;
}

function isPhpNumber(value: PhpValue): value is PhpNumber {
  return typeof value === "object" && value !== null && !(value instanceof Map);
}

/** PHP's `(bool)`: false for false, null, 0, 0.0, "", "0" and empty arrays; true otherwise ("false" too). */
export function phpBool(value: PhpValue | undefined): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return value !== "" && value !== "0";
  if (isPhpArray(value)) return value.size > 0;
  return value.value !== 0;
}

/** PHP's `(string)` of a scalar; arrays have no string form here (undefined). */
export function phpString(value: PhpValue | undefined): string | undefined {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "1" : "";
  if (isPhpArray(value)) return undefined;
  return value.kind === "int" ? intString(value.value) : floatString(value.value);
}

function intString(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(Math.trunc(n)).toString();
}

/** PHP 8's float to string (precision 14): 3.0 → "3", 0.1 → "0.1", 1e25 → "1.0E+25". */
export function floatString(n: number): string {
  if (Number.isNaN(n)) return "NAN";
  if (!Number.isFinite(n)) return n > 0 ? "INF" : "-INF";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const precise = Number(n.toPrecision(14));
  const exponent = Math.floor(Math.log10(Math.abs(precise)));
  if (exponent < -5 || exponent >= 15) {
    const [mantissa = "0", exp = "0"] = precise.toExponential().split("e");
    const withPoint = mantissa.includes(".") ? mantissa : `${mantissa}.0`;
    const sign = exp.startsWith("-") ? "-" : "+";
    return `${withPoint}E${sign}${exp.replace(/^[+-]/, "")}`;
  }
  return String(precise);
}

/** PHP's truthiness of a string (`if ($s)`): everything but "" and "0". */
export function phpTruthy(value: string | undefined | null): value is string {
  return value !== undefined && value !== null && value !== "" && value !== "0";
}

const NUMERIC = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

/** PHP 8's `is_numeric` for strings. */
export function isNumericString(value: string): boolean {
  return NUMERIC.test(value);
}

/** PHP's `is_numeric` for a decoded value. */
export function phpIsNumeric(value: PhpValue | undefined): boolean {
  if (value === undefined || value === null || typeof value === "boolean" || isPhpArray(value)) return false;
  if (typeof value === "string") return isNumericString(value);
  return isPhpNumber(value);
}

/** PHP's `intval` of a decoded value, clamped to what the contracts carry (uint32); 0 when not numeric. */
export function phpUint(value: PhpValue | undefined): number {
  const text = value === undefined ? "" : (phpString(value) ?? "");
  const match = /^[ \t\n\r\v\f]*\+?(\d+)/.exec(text);
  if (!match?.[1]) return 0;
  const n = Number(match[1]);
  return Math.min(n, 0xffffffff);
}

/** `ucfirst`. */
export function ucfirst(value: string): string {
  return value.length === 0 ? value : value.charAt(0).toUpperCase() + value.slice(1);
}
