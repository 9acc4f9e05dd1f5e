// `buf breaking` against the committed main branch (or BUF_BREAKING_AGAINST). Skipped while main has no
// proto module yet.
import { execFileSync } from "node:child_process";

const against = process.env.BUF_BREAKING_AGAINST ?? ".git#branch=main";
let hasModule = true;
try {
  execFileSync("git", ["cat-file", "-e", "main:buf.yaml"], { stdio: "ignore" });
} catch {
  hasModule = false;
}
if (!hasModule && !process.env.BUF_BREAKING_AGAINST) {
  console.log("buf breaking: main has no proto module yet, nothing to compare against");
} else {
  execFileSync("buf", ["breaking", "--against", against], { stdio: "inherit" });
  console.log(`buf breaking: no breaking changes against ${against}`);
}
