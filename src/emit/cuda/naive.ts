// Emit stage (CUDA): a naive stage's element program (tile/elements.ts), one thread an element of the statement's tensor, reductions as loops.
import type { ElementProgram } from "../../tile/elements.js";
import type { Dialect } from "../expr.js";
import { identifier, printExpr } from "../expr.js";
import { CodeWriter } from "../writer.js";
import { extentCode, storeOffset, type TensorSlot } from "./common.js";

/** The stage with `threads` a block (its schedule record's). */
export function printNaive(name: string, program: ElementProgram, d: Dialect, slots: ReadonlyMap<string, TensorSlot>, threads: number): string {
  const st = program;
  const slot = slots.get(st.target)!;
  const w = new CodeWriter();
  w.line(`__global__ void __launch_bounds__(${threads}) ${name}(const Params p) {`);
  w.indented(() => {
    w.line(`const long long total = ${st.vars.map((v) => `(long long)${extentCode(v.extent, d)}`).join(" * ") || "1"};`);
    w.block("for (long long flat = (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < total; flat += (long long)gridDim.x * blockDim.x)", () => {
      if (st.vars.length > 0) w.line("long long rest = flat;");
      for (const x of st.digits) {
        const extent = extentCode(x.extent, d);
        w.line(`const int ${identifier(x.name)} = (int)${x.outermost ? "rest" : `(rest % ${extent})`};`);
        if (!x.outermost) w.line(`rest /= ${extent};`);
      }
      const value = printExpr(st.value, d, w);
      w.line(`attnc_store(static_cast<${slot.ctype}*>(const_cast<void*>(p.t[${slot.index}])) + (${storeOffset(st.vars, slot)}), ${value});`);
    });
  });
  w.line("}");
  return w.toString();
}
