// Fails when packages/proto/src/gen is not what `buf generate` makes from proto/ right now.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const committed = join(root, "packages/proto/src/gen");
const scratch = mkdtempSync(join(tmpdir(), "ostmesh-gen-"));

function files(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out = statSync(path).isDirectory() ? out.concat(files(path)) : out.concat(path);
  }
  return out;
}

try {
  execFileSync("buf", ["generate", "-o", scratch], { cwd: root, stdio: "inherit" });
  const fresh = join(scratch, "packages/proto/src/gen");
  const want = new Map(files(fresh).map((f) => [relative(fresh, f), readFileSync(f, "utf8")]));
  const have = new Map(files(committed).map((f) => [relative(committed, f), readFileSync(f, "utf8")]));
  const stale = [...new Set([...want.keys(), ...have.keys()])].filter((k) => want.get(k) !== have.get(k));
  if (stale.length > 0) {
    console.error(`generated code is out of date (run \`npm run proto:generate\`):\n  ${stale.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`generated code is up to date (${want.size} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
