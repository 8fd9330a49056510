// The library API: `import { compile } from "attnc"`.
export { compile, type CompileOptions, type CompileResult, type CompiledKernel, type Target } from "./compile.js";
export { frontEnd, type FrontEndResult } from "./frontend.js";
export type { Diagnostic, Severity } from "./diagnostics/diagnostic.js";
export { formatDiagnostic } from "./diagnostics/source.js";
export type { Manifest, ManifestTensor } from "./manifest.js";
export type { CheckedKernel } from "./check/typed.js";
export { interpret, type Arguments, type Sizes } from "./interp/interpret.js";
