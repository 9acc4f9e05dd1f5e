import { HTML4_ENTITIES } from "./html4-entities.ts";

/**
 * `htmlspecialchars` with ENT_COMPAT | ENT_HTML401 and no double encoding (Format::htmlchars): an `&` that
 * starts an HTML 4.01 entity (no `&apos;`) or a numeric reference up to U+10FFFF is left alone.
 */
export function htmlChars(text: string): string {
  return text.replace(/&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[a-zA-Z0-9]+;)?|["<>]/g, (match, entity?: string) => {
    if (match === '"') return "&quot;";
    if (match === "<") return "&lt;";
    if (match === ">") return "&gt;";
    if (entity && isKeptReference(entity.slice(0, -1))) return match;
    return `&amp;${entity ?? ""}`;
  });
}

function isKeptReference(reference: string): boolean {
  if (!reference.startsWith("#")) return reference !== "apos" && HTML4_ENTITIES.has(reference);
  const hex = reference.charAt(1) === "x" || reference.charAt(1) === "X";
  const digits = reference.slice(hex ? 2 : 1).replace(/^0+/, "");
  return digits.length <= 8 && Number.parseInt(digits || "0", hex ? 16 : 10) <= 0x10ffff;
}
