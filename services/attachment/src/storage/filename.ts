/** `ost_file.name` and `ost_attachment.name` are varchar(255) in utf8mb3. */
export const MAX_FILE_NAME_LENGTH = 255;

const FALLBACK_NAME = "file";
const MAX_KEPT_EXTENSION = 16;

/**
 * A file name fit to be stored and sent back as a download filename: only the last path part is kept
 * (both `/` and `\` separate), control and bidi-override characters are removed (they spoof what a user
 * sees, e.g. `gpj.exe` shown as `exe.jpg`), characters outside the BMP are removed (utf8mb3 cannot store
 * them), whitespace is collapsed, trailing dots/spaces dropped, the length capped at 255 characters
 * keeping the extension, and an empty result becomes `file` (with `fallbackExtension` if given).
 */
export function sanitizeFileName(raw: string, fallbackExtension?: string): string {
  const lastPart = raw.normalize("NFC").split(/[/\\]/).pop() ?? "";
  let name = lastPart
    // tabs and line breaks become spaces; other C0/C1 controls and DEL go
    .replace(/[\t\n\r\v\f]/g, " ")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "")
    // bidi embeddings/overrides/isolates, zero-width and BOM characters
    .replace(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, "")
    // lone surrogates and anything beyond the BMP (emoji): utf8mb3 has no room for them
    .replace(/[\ud800-\udfff]/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[. ]+$/, "");
  if (name === "" || /^\.+$/.test(name)) {
    const ext = fallbackExtension?.replace(/[^a-z0-9]/gi, "").slice(0, MAX_KEPT_EXTENSION);
    name = ext ? `${FALLBACK_NAME}.${ext}` : FALLBACK_NAME;
  }
  return capLength(name);
}

function capLength(name: string): string {
  if (name.length <= MAX_FILE_NAME_LENGTH) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot) : "";
  if (ext.length > 1 && ext.length <= MAX_KEPT_EXTENSION + 1) {
    return name.slice(0, MAX_FILE_NAME_LENGTH - ext.length).trimEnd() + ext;
  }
  return name.slice(0, MAX_FILE_NAME_LENGTH);
}

/**
 * The extension of a file name, lower-cased and without the dot ("" when there is none), taken the way
 * PHP's `pathinfo(..., PATHINFO_EXTENSION)` takes it (`.htaccess` → `htaccess`), as osTicket's type rules do.
 */
export function fileExtension(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot >= 0 ? base.slice(dot + 1).toLowerCase() : "";
}
