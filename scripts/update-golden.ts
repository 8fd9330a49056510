// Regenerates test/golden/diagnostics/*.expected from what `attnc check` prints today. For people only, never CI:
// read the diff of every file it changes before committing it.
//   npx tsx scripts/update-golden.ts            all cases
//   npx tsx scripts/update-golden.ts NAME ...   only these (NAME or NAME.attn)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { checkOutput, expectedPath, goldenCases } from "../test/golden/check-output.js";

const wanted = process.argv.slice(2).map((a) => (a.endsWith(".attn") ? a : `${a}.attn`));
const all = goldenCases();
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  process.stderr.write(`no such golden case: ${unknown.join(", ")}\n`);
  process.exit(2);
}
let changed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  const path = expectedPath(name);
  const { stderr, exitCode, via } = checkOutput(name);
  const before = existsSync(path) ? readFileSync(path, "utf8") : undefined;
  if (before === stderr) continue;
  writeFileSync(path, stderr);
  changed++;
  process.stdout.write(`${before === undefined ? "created" : "updated"} ${path} (exit ${exitCode}, ${via})\n`);
}
process.stdout.write(`${changed} of ${wanted.length > 0 ? wanted.length : all.length} expected files changed\n`);
