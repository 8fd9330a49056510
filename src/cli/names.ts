// CLI: the names a command line may give (--define, --kernel, --sizes, --scalars), checked against the file's.
import { didYouMean, hasErrors } from "../diagnostics/diagnostic.js";
import { maxSourceLength } from "../frontend.js";
import type { CheckedKernel } from "../check/typed.js";
import { checkProgram } from "../check/check.js";
import { parse } from "../syntax/parse.js";

const list = (names: readonly string[]) => (names.length > 0 ? names.join(", ") : "none");
const hint = (name: string, names: readonly string[]) => {
  const h = didYouMean(name, names);
  return h === undefined ? "" : ` (${h})`;
};

/**
 * What is wrong with the --define and --kernel names, or undefined (also where the program has errors: those are
 * the compiler's to report). A define overrides a const or turns a size into one; a name that is neither (in any
 * kernel) is a mistake.
 */
export function checkProgramNames(text: string, defines: Readonly<Record<string, number>>, kernel: string | undefined): string | undefined {
  if (kernel === undefined && Object.keys(defines).length === 0) return undefined;
  if (text.length > maxSourceLength) return undefined;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch {
    return undefined; // the compiler reports it
  }
  const program = parsed.program;
  if (program === undefined || hasErrors(parsed.diagnostics)) return undefined;
  const kernels = program.kernels.map((k) => k.name.name);
  if (kernel !== undefined && !kernels.includes(kernel)) return `--kernel: the file has no kernel named \`${kernel}\`${hint(kernel, kernels)}; its kernels: ${list(kernels)}`;
  const names = Object.keys(defines);
  if (names.length === 0) return undefined;
  const consts = program.consts.map((c) => c.name.name);
  const result = checkProgram(program, { defines });
  if (hasErrors(result.diagnostics)) return undefined;
  const checked = result.kernels;
  const used = new Set(checked.flatMap((k) => Object.keys(k.defines)));
  const sizes = [...new Set(checked.flatMap((k) => k.sizes))];
  for (const name of names) {
    if (consts.includes(name) || used.has(name)) continue;
    return `--define: \`${name}\` names no const or size of the file${hint(name, [...consts, ...sizes])}; its consts: ${list(consts)}; its sizes: ${list(sizes)}`;
  }
  return undefined;
}

/** What is wrong with the --sizes and --scalars names for the kernels at hand, or undefined. */
export function checkRunNames(kernels: readonly CheckedKernel[], sizes: Readonly<Record<string, number>>, scalars: Readonly<Record<string, number>>): string | undefined {
  const sizeNames = [...new Set(kernels.flatMap((k) => k.sizes))];
  const consts = [...new Set(kernels.flatMap((k) => Object.keys(k.defines)))];
  const scalarNames = [...new Set(kernels.flatMap((k) => k.scalars.map((s) => s.name)))];
  for (const name of Object.keys(sizes)) {
    if (sizeNames.includes(name)) continue;
    if (consts.includes(name)) return `--sizes: \`${name}\` is a compile-time const, not a run-time size (give --define ${name}=${sizes[name]} instead)`;
    return `--sizes: \`${name}\` is not a run-time size of the kernel${hint(name, sizeNames)}; its sizes: ${list(sizeNames)}`;
  }
  for (const name of Object.keys(scalars)) {
    if (scalarNames.includes(name)) continue;
    return `--scalars: \`${name}\` is not a scalar parameter of the kernel${hint(name, scalarNames)}; its scalars: ${list(scalarNames)}`;
  }
  return undefined;
}
