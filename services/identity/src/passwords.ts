import { createHash, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";

/**
 * osTicket's password hashes (FACTS §5): bcrypt `$2a$`/`$2y$`/`$2b$` (osTicket writes `$2a$08$` through
 * phpass), phpass "portable" `$P$`/`$H$` hashes (iterated MD5), and legacy hex MD5, which osTicket accepts
 * once and replaces with bcrypt.
 */

export type HashScheme = "bcrypt" | "phpass" | "md5" | "unknown";

export interface PasswordCheck {
  ok: boolean;
  scheme: HashScheme;
  /** The stored hash is legacy MD5: after a successful check it is replaced with bcrypt, as osTicket does. */
  upgrade: boolean;
}

/** bcrypt cost of the hashes ostmesh writes (osTicket writes 8; PHP's crypt verifies any cost). */
export const BCRYPT_COST = 10;

export function hashScheme(stored: string): HashScheme {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(stored)) return "bcrypt";
  if (/^\$[PH]\$[./0-9A-Za-z]{31}$/.test(stored)) return "phpass";
  if (/^[0-9a-fA-F]{32}$/.test(stored)) return "md5";
  return "unknown";
}

/** Checks `password` against an osTicket hash, in constant time for each scheme. */
export async function verifyPassword(
  password: string,
  stored: string | null | undefined,
): Promise<PasswordCheck> {
  const hash = stored ?? "";
  const scheme = hashScheme(hash);
  switch (scheme) {
    case "bcrypt":
      // bcryptjs treats $2a$, $2b$ and $2y$ alike (PHP's crypt_blowfish does for valid UTF-8 input).
      return { ok: await bcrypt.compare(password, hash), scheme, upgrade: false };
    case "phpass":
      return { ok: safeEqual(phpassPortable(password, hash), hash), scheme, upgrade: false };
    case "md5":
      return {
        ok: password !== "" && safeEqual(md5Hex(password), hash.toLowerCase()),
        scheme,
        upgrade: true,
      };
    default:
      return { ok: false, scheme, upgrade: false };
  }
}

/** A new bcrypt hash osTicket's PHP verifies (`$2y$`, which PHP's crypt() has accepted since 5.3.7). */
export async function hashPassword(password: string): Promise<string> {
  const hash = await bcrypt.hash(password, BCRYPT_COST);
  return `$2y$${hash.slice(4)}`;
}

/**
 * Burns about as much time as a bcrypt check, for logins naming nobody: the response time must not tell
 * whether an account exists.
 */
export async function dummyPasswordCheck(password: string): Promise<void> {
  await bcrypt.compare(password, DUMMY_HASH);
}
const DUMMY_HASH = "$2a$08$ifki.vZt9Wdt3ekasIio..bMIrHiR2AKZCgHJsrnJjrQWetSRORDS";

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * phpass 0.3 portable hash (`$P$` + cost char + 8 salt chars + 22 hash chars): MD5(salt . password), then
 * 2^cost rounds of MD5(previous . password), encoded with phpass' own base64 order. Returns "*" for a
 * malformed setting, which never equals a stored hash.
 */
export function phpassPortable(password: string, setting: string): string {
  const id = setting.slice(0, 3);
  if (id !== "$P$" && id !== "$H$") return "*";
  const countLog2 = ITOA64.indexOf(setting.charAt(3));
  if (countLog2 < 7 || countLog2 > 30) return "*";
  const salt = setting.slice(4, 12);
  if (salt.length !== 8) return "*";
  const pass = Buffer.from(password, "utf8");
  let hash = createHash("md5")
    .update(Buffer.concat([Buffer.from(salt, "binary"), pass]))
    .digest();
  for (let count = 1 << countLog2; count > 0; count--) {
    hash = createHash("md5")
      .update(Buffer.concat([hash, pass]))
      .digest();
  }
  return setting.slice(0, 12) + encode64(hash, 16);
}

function encode64(input: Buffer, count: number): string {
  let output = "";
  let i = 0;
  do {
    let value = input[i++] ?? 0;
    output += ITOA64[value & 0x3f];
    if (i < count) value |= (input[i] ?? 0) << 8;
    output += ITOA64[(value >> 6) & 0x3f];
    if (i++ >= count) break;
    if (i < count) value |= (input[i] ?? 0) << 16;
    output += ITOA64[(value >> 12) & 0x3f];
    if (i++ >= count) break;
    output += ITOA64[(value >> 18) & 0x3f];
  } while (i < count);
  return output;
}

function md5Hex(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
