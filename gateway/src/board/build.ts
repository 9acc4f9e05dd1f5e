/**
 * Builds the live ticket board: client/main.ts bundled by esbuild for the browser (Connect-Web and the
 * generated messages included; no CDN), plus the static page and stylesheet from gateway/public/board.
 * The bundle is built in memory when the gateway first serves the board, so the image needs no writable
 * directory and no build step; `node gateway/src/board/build.ts` writes it to gateway/public/dist/board
 * (ignored by git) to look at.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ENTRY = fileURLToPath(new URL("./client/main.ts", import.meta.url));
const PUBLIC = new URL("../../public/board/", import.meta.url);
const DIST = new URL("../../public/dist/board/", import.meta.url);

export interface BoardAssets {
  readonly html: Buffer;
  readonly css: Buffer;
  readonly js: Buffer;
  /** Strong validator of the three files together. */
  readonly etag: string;
}

/** The browser bundle of the board, minified, as bytes. */
export async function bundleBoard(): Promise<Buffer> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "silent",
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error("esbuild produced no output for the board");
  return Buffer.from(file.contents);
}

export async function loadBoardAssets(): Promise<BoardAssets> {
  const [html, css, js] = await Promise.all([
    readFile(new URL("index.html", PUBLIC)),
    readFile(new URL("board.css", PUBLIC)),
    bundleBoard(),
  ]);
  const etag = `"${createHash("sha256").update(html).update(css).update(js).digest("base64url").slice(0, 27)}"`;
  return { html, css, js, etag };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const assets = await loadBoardAssets();
  await mkdir(DIST, { recursive: true });
  await writeFile(new URL("index.html", DIST), assets.html);
  await writeFile(new URL("board.css", DIST), assets.css);
  await writeFile(new URL("board.js", DIST), assets.js);
  process.stdout.write(`board built into ${fileURLToPath(DIST)} (board.js ${assets.js.length} bytes)\n`);
}
