// Test support: a child process that compiles .attn text on request, so that a compile which runs out of memory or
// never ends takes down only this process (see isolated.ts).
import { compile, type CompileOptions } from "../../src/compile.js";

const reply = (m: unknown) => process.send!(m);
process.on("message", ({ id, source, options }: { id: number; source: string; options: CompileOptions }) => {
  const start = performance.now();
  try {
    const result = compile(source, options);
    const ms = performance.now() - start;
    reply({ id, ms, result });
  } catch (e) {
    const thrown = e instanceof Error ? `${e.name}: ${e.message.slice(0, 300)}\n${(e.stack ?? "").split("\n").slice(1, 6).join("\n")}` : String(e);
    reply({ id, ms: performance.now() - start, thrown });
  }
});
