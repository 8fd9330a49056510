// Emit stage (WGSL): a naive stage's element program (tile/elements.ts), one invocation an element of the statement's tensor, reductions as loops.
import type { ElementProgram } from "../../tile/elements.js";
import { identifier, printExpr } from "../expr.js";
import { CodeWriter } from "../writer.js";
import { commentText } from "../names.js";
import { noTensorUses, recordingDialect, storedValue, tensorIdentifier, type TensorUses } from "./dialect.js";
import { elementsPerWorkgroup } from "../../schedule/choose-wgsl.js";
import { extentCode } from "./module.js";

/** The stage's code, and the tensors it names. */
export function printNaive(entry: string, program: ElementProgram, targetIsInt: boolean): { code: string; uses: TensorUses } {
  const uses = noTensorUses();
  const d = recordingDialect(uses);
  const st = program;
  const w = new CodeWriter();
  const extents = st.vars.map((v) => extentCode(v.extent));
  w.line(`// ${entry}: ${commentText(`${st.target}[${st.vars.map((v) => v.name).join(", ")}]`)}, one invocation an element.`);
  w.line(`@compute @workgroup_size(${elementsPerWorkgroup})`);
  w.block(`fn ${entry}(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u)`, () => {
    w.line("_ = params[0].x;  // every stage binds the parameters");
    w.line(`let flat = gid.x + gid.y * groups.x * ${elementsPerWorkgroup}u;`);
    w.line(`let total = ${extents.map((e) => `u32(${e})`).join(" * ") || "1u"};`);
    w.line("if (flat >= total) { return; }");
    if (st.vars.length > 0) w.line("var rest = flat;");
    for (const x of st.digits) {
      const extent = extentCode(x.extent);
      w.line(`let ${identifier(x.name)} = i32(${x.outermost ? "rest" : `rest % u32(${extent})`});`);
      if (!x.outermost) w.line(`rest = rest / u32(${extent});`);
    }
    const value = printExpr(st.value, d, w);
    const stored = storedValue(value, st.value.type, targetIsInt);
    uses.stores.add(st.target);
    w.line(`st_${tensorIdentifier(st.target)}(${[...st.vars.map((v) => identifier(v.name)), stored].join(", ")});`);
  });
  return { code: w.toString(), uses };
}
