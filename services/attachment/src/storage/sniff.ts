import { fileTypeFromBuffer } from "file-type";
import { FileTypeMismatchError, InvalidFileTypeError } from "./errors.ts";

/**
 * Declared MIME type vs. the content's magic bytes. The declared type is what osTicket stores
 * (lower-cased, FACTS §1.7); the sniffed type only decides whether the declaration is believable.
 * Content no signature matches (plain text, CSV, most source files) is accepted under any declared type;
 * content that does match must agree with the declaration up to aliases and container families.
 */

export interface DeclaredType {
  /** What goes into `ost_file.type`: trimmed and lower-cased, parameters kept (ascii, ≤255 chars). */
  stored: string;
  /** `type/subtype` without parameters, aliases resolved; "" when nothing was declared. */
  essence: string;
}

export interface DetectedType {
  mime: string;
  ext: string;
}

const MIME_ESSENCE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9!#$&^_.+*-]+$/;

/** Parses a declared type; throws InvalidFileTypeError for something that is not a MIME type. */
export function parseDeclaredType(raw: string): DeclaredType {
  const stored = raw.trim().toLowerCase();
  if (stored === "") return { stored: "", essence: "" };
  const essence = (stored.split(";", 1)[0] ?? "").trim();
  // ost_file.type is an ascii column of 255 chars: anything else would be mangled or cut.
  if (!MIME_ESSENCE.test(essence) || stored.length > 255 || !/^[\x20-\x7e]*$/.test(stored)) {
    throw new InvalidFileTypeError(raw);
  }
  return { stored, essence: canonicalMime(essence) };
}

/** The content type file-type recognises in the first bytes of a file, if any. */
export async function detectType(head: Uint8Array): Promise<DetectedType | undefined> {
  if (head.byteLength === 0) return undefined;
  const found = await fileTypeFromBuffer(head);
  return found ? { mime: canonicalMime(found.mime), ext: found.ext } : undefined;
}

/** Throws FileTypeMismatchError when `detected` contradicts the declared type. */
export function assertTypeMatchesContent(declared: DeclaredType, detected: DetectedType | undefined): void {
  if (!detected || declared.essence === "" || GENERIC_TYPES.has(declared.essence)) return;
  if (typesAgree(declared.essence, detected.mime)) return;
  throw new FileTypeMismatchError(declared.stored, detected.mime);
}

// Declarations that say nothing about the content.
const GENERIC_TYPES = new Set([
  "application/octet-stream",
  "binary/octet-stream",
  "application/binary",
  "application/unknown",
  "application/x-unknown",
  "application/download",
  "application/x-download",
  "application/force-download",
  "application/save",
]);

// Other names clients and mail programs use for the types file-type reports.
const ALIASES: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "image/x-png": "image/png",
  "image/x-ms-bmp": "image/bmp",
  "image/x-bmp": "image/bmp",
  "image/x-icon": "image/vnd.microsoft.icon",
  "image/x-ico": "image/vnd.microsoft.icon",
  "image/ico": "image/vnd.microsoft.icon",
  "image/x-tiff": "image/tiff",
  "image/x-psd": "image/vnd.adobe.photoshop",
  "image/psd": "image/vnd.adobe.photoshop",
  "image/x-dwg": "image/vnd.dwg",
  "audio/mp3": "audio/mpeg",
  "audio/x-mp3": "audio/mpeg",
  "audio/x-mpeg": "audio/mpeg",
  "audio/mpeg3": "audio/mpeg",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "audio/vnd.wave": "audio/wav",
  "audio/vnd.wav": "audio/wav",
  "audio/x-m4a": "audio/mp4",
  "audio/m4a": "audio/mp4",
  "audio/x-flac": "audio/flac",
  "audio/x-aiff": "audio/aiff",
  "audio/midi": "audio/midi",
  "audio/x-midi": "audio/midi",
  "video/x-msvideo": "video/avi",
  "video/msvideo": "video/avi",
  "video/vnd.avi": "video/avi",
  "video/x-m4v": "video/mp4",
  "application/x-zip-compressed": "application/zip",
  "application/x-zip": "application/zip",
  "multipart/x-zip": "application/zip",
  "application/x-gzip": "application/gzip",
  "application/gzip-compressed": "application/gzip",
  "application/x-tar": "application/x-tar",
  "application/tar": "application/x-tar",
  "application/x-rar-compressed": "application/x-rar-compressed",
  "application/rar": "application/x-rar-compressed",
  "application/vnd.rar": "application/x-rar-compressed",
  "application/x-7z": "application/x-7z-compressed",
  "application/x-pdf": "application/pdf",
  "application/acrobat": "application/pdf",
  "text/pdf": "application/pdf",
  "text/xml": "application/xml",
  "text/rtf": "application/rtf",
  "application/x-rtf": "application/rtf",
  "application/x-msdos-program": "application/x-msdownload",
  "application/x-dosexec": "application/x-msdownload",
  "application/x-ms-dos-executable": "application/x-msdownload",
  "application/vnd.microsoft.portable-executable": "application/x-msdownload",
  "application/x-executable": "application/x-msdownload",
  "application/exe": "application/x-msdownload",
  "application/x-exe": "application/x-msdownload",
  "application/x-winexe": "application/x-msdownload",
  "application/x-sharedlib": "application/x-elf",
  "application/x-shockwave-flash": "application/x-shockwave-flash",
  "application/vnd.adobe.flash.movie": "application/x-shockwave-flash",
  "application/postscript": "application/postscript",
  "application/eps": "application/postscript",
  "image/x-eps": "application/postscript",
};

export function canonicalMime(essence: string): string {
  return ALIASES[essence] ?? essence;
}

// ZIP containers: a docx is a zip, and file-type may only see the zip (or see a docx sent as a zip).
const ZIP_BASED = [
  /^application\/vnd\.openxmlformats-officedocument\./,
  /^application\/vnd\.ms-[a-z]+\.[a-z.]*macroenabled\.12$/,
  /^application\/vnd\.ms-excel\.sheet\.binary\.macroenabled\.12$/,
  /^application\/vnd\.oasis\.opendocument\./,
  /^application\/vnd\.sun\.xml\./,
  /^application\/vnd\.apple\.(keynote|pages|numbers)$/,
  /^application\/(epub\+zip|java-archive|x-java-archive|vnd\.android\.package-archive|x-xpinstall)$/,
  /^application\/(vnd\.ms-xpsdocument|oxps|vnd\.ms-package\.3dmanufacturing-3dmodel\+xml|vnd\.google-earth\.kmz)$/,
  /^application\/(vnd\.openofficeorg\.extension|x-indesign|illustrator)$/,
  /^model\/3mf$/,
];
// OLE2 compound files: legacy Office documents, Outlook messages, installers.
const CFB_BASED = [
  /^application\/(msword|vnd\.ms-excel|vnd\.ms-powerpoint|vnd\.ms-outlook|vnd\.ms-project|vnd\.visio)$/,
  /^application\/(vnd\.ms-works|vnd\.ms-publisher|x-mspublisher|x-msi|x-ole-storage|vnd\.ms-office)$/,
  /^application\/(msonenote|x-msmoney|vnd\.ms-access|x-msaccess)$/,
];
// Types file-type reports for text-like content that a text declaration may legitimately cover.
const TEXTUAL_DETECTED = new Set([
  "application/xml",
  "image/svg+xml",
  "application/rtf",
  "text/calendar",
  "text/vtt",
]);

function isZipBased(mime: string): boolean {
  return ZIP_BASED.some((re) => re.test(mime));
}

function isCfbBased(mime: string): boolean {
  return CFB_BASED.some((re) => re.test(mime));
}

function isTextual(mime: string): boolean {
  return mime.startsWith("text/") || mime.endsWith("+xml") || mime === "application/xml";
}

function typesAgree(declared: string, detected: string): boolean {
  if (declared === detected) return true;
  if (declared.endsWith("/*")) return detected.startsWith(declared.slice(0, -1));
  const [declaredTop, declaredSub] = declared.split("/");
  const [detectedTop, detectedSub] = detected.split("/");
  // audio/ogg vs video/ogg, audio/mp4 vs video/mp4, audio/webm vs video/webm: one container, either medium
  if (
    declaredSub === detectedSub &&
    (declaredTop === "audio" || declaredTop === "video") &&
    (detectedTop === "audio" || detectedTop === "video")
  ) {
    return true;
  }
  if (detected === "application/zip" && isZipBased(declared)) return true;
  if (declared === "application/zip" && isZipBased(detected)) return true;
  if (detected === "application/x-cfb" && isCfbBased(declared)) return true;
  if (declared === "application/x-cfb" && isCfbBased(detected)) return true;
  if (isTextual(declared) && TEXTUAL_DETECTED.has(detected)) return true;
  return false;
}
