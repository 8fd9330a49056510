// Emit stage (CUDA): pieces shared by the CUDA kernel printers: offsets with strides, row decomposition, element stores.
import type { IndexVar } from "../../check/typed.js";
import type { Dialect } from "../expr.js";
import { extentCode, identifier, printExpr } from "../expr.js";
import type { CodeWriter } from "../writer.js";
import type { LoadExpr } from "../expr.js";

/** A tensor in Params: its pointer `p.t[index]`, its dims and strides from `strideOffset` on, its element type. */
export type TensorSlot = { readonly index: number; readonly strideOffset: number; readonly ctype: string };

export { extentCode };

/** `(long long)(idx) * p.st[..] + ...` over a load's indices, skipping some positions. */
export function offsetCode(load: LoadExpr, slot: TensorSlot, d: Dialect, w: CodeWriter, skip: ReadonlySet<number> = new Set()): string {
  const terms = load.indices.flatMap((ix, k) => {
    if (skip.has(k)) return [];
    const code = printExpr(ix, d, w);
    const at = slot.strideOffset + k;
    const index = load.clamped[k] ? `attnc_clamp_index(${code}, p.dim[${at}])` : `(long long)(${code})`;
    return [`${index} * p.st[${at}]`];
  });
  return terms.length === 0 ? "0LL" : terms.join(" + ");
}

/** Offset of an element of a tensor written at the given index variables, in the tensor's dimension order. */
export function storeOffset(vars: readonly IndexVar[], slot: TensorSlot): string {
  const terms = vars.map((v, k) => `(long long)${identifier(v.name)} * p.st[${slot.strideOffset + k}]`);
  return terms.length === 0 ? "0LL" : terms.join(" + ");
}

/** Declares the row variables from a flat row number (last variable fastest). */
export function declareRows(rows: readonly IndexVar[], flat: string, d: Dialect, w: CodeWriter): void {
  let rest = flat;
  for (let k = rows.length - 1; k >= 0; k--) {
    const extent = extentCode(rows[k].extent, d);
    if (k === 0) w.line(`const int ${identifier(rows[k].name)} = ${rest};`);
    else {
      w.line(`const int ${identifier(rows[k].name)} = ${rest} % ${extent};`);
      const next = w.fresh("rest");
      w.line(`const int ${next} = ${rest} / ${extent};`);
      rest = next;
    }
  }
}

export const rowCountCode = (rows: readonly IndexVar[], d: Dialect): string =>
  rows.length === 0 ? "1" : rows.map((r) => `(long long)${extentCode(r.extent, d)}`).join(" * ");

