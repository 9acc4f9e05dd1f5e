import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { freePort } from "@ostmesh/kit/testing/ports.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerIgnored, execForm, parseDockerfile } from "./validation/dockerfile.ts";

// Nothing here can run containers, so this assembles the ticket image's file system the way its
// Dockerfile does — the same COPY sources through .dockerignore, the same `npm ci --omit=dev -w ...`
// (offline, from the cache the repository's own install filled) — and starts its CMD as uid 1000 against
// the real MySQL and NATS: the image's process must come up alive and ready, and stop on SIGTERM.

const ROOT = resolve(import.meta.dirname, "..");
const DOCKERFILE = join(ROOT, "services/ticket/Dockerfile");
const run = promisify(execFile);

let app = "";
let db: ScratchDatabase | undefined;
let child: ChildProcess | undefined;

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).status;
  } catch {
    return 0;
  }
}

async function waitFor(url: string, want: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let last = 0;
  while (Date.now() < deadline) {
    last = await status(url);
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

beforeAll(async () => {
  const file = parseDockerfile(readFileSync(DOCKERFILE, "utf8"));
  const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
  app = mkdtempSync(join(tmpdir(), "ostmesh-image-"));
  chmodSync(app, 0o755);
  // Every COPY from the build context keeps its repository path in these Dockerfiles (WORKDIR /app).
  for (const stage of file.stages) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== "COPY" || instruction.args.includes("--from=")) continue;
      const sources = instruction.args
        .split(/\s+/)
        .filter((part) => !part.startsWith("--"))
        .slice(0, -1);
      for (const source of sources) {
        mkdirSync(join(app, dirname(source)), { recursive: true });
        cpSync(join(ROOT, source), join(app, source), {
          recursive: true,
          filter: (path) => !dockerIgnored(ignore, path.slice(ROOT.length + 1)) || path === ROOT,
        });
      }
    }
  }
  const install = file.stages[0]?.instructions.find((i) => i.keyword === "RUN" && i.args.includes("npm ci"));
  const args = (install?.args ?? "")
    .replace(/--mount=\S+/g, "")
    .trim()
    .split(/\s+/);
  expect(args.slice(0, 2)).toEqual(["npm", "ci"]);
  await run("npm", [...args.slice(1), "--offline"], {
    cwd: app,
    env: { ...process.env, NODE_ENV: "production" },
  });
  db = await createScratchDatabase({ label: "image", from: "empty" });
}, 120_000);

afterAll(async () => {
  if (child?.exitCode === null) child.kill("SIGKILL");
  await db?.drop();
  if (app) rmSync(app, { recursive: true, force: true });
});

describe("ticket image file system", () => {
  it("holds no dev tooling: only production dependencies are installed", () => {
    for (const devOnly of ["vitest", "typescript", "@biomejs/biome", "kubernetes-models"]) {
      expect(() => readFileSync(join(app, "node_modules", devOnly, "package.json")), devOnly).toThrow();
    }
    expect(readFileSync(join(app, "node_modules/@ostmesh/kit/package.json"), "utf8")).toContain(
      "@ostmesh/kit",
    );
  });

  it("starts its CMD as uid 1000, becomes alive and ready on real MySQL and NATS, and stops on SIGTERM", async () => {
    const command = execForm(
      parseDockerfile(readFileSync(DOCKERFILE, "utf8"))
        .stages.at(-1)
        ?.instructions.findLast((i) => i.keyword === "CMD")?.args ?? "",
    );
    expect(command?.[0]).toBe("node");
    const [rpc, admin] = [await freePort(), await freePort()];
    const cache = join(app, "tmp-cache");
    mkdirSync(cache);
    if (process.getuid?.() === 0) chownSync(cache, 1000, 1000);
    // The image's user; a developer who is not root runs it as themselves (still not root).
    const asImageUser = process.getuid?.() === 0 ? { uid: 1000, gid: 1000 } : {};
    child = spawn(process.execPath, command?.slice(1) ?? [], {
      cwd: app,
      ...asImageUser,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        NODE_ENV: "production",
        NODE_COMPILE_CACHE: cache,
        DATABASE_URL: db?.url,
        NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
        TICKET_PORT: String(rpc),
        TICKET_ADMIN_PORT: String(admin),
        OSTMESH_SHUTDOWN_GRACE: "2s",
        OSTMESH_BIND_HOST: "127.0.0.1",
      },
    });
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((done) => child?.once("exit", (code) => done(code)));

    expect(await waitFor(`http://127.0.0.1:${admin}/healthz`, 200, 20_000), output).toBe(200);
    expect(await waitFor(`http://127.0.0.1:${admin}/readyz`, 200, 10_000), output).toBe(200);
    child.kill("SIGTERM");
    expect(await exited, output).toBe(0);
  }, 60_000);
});
