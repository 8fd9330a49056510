// Tile stage: a naive stage (after plan/naive-lower.ts) as an element program: one thread an element of the
// statement's tensor, its flat number split into the index variables, the value (reductions as loops) stored.
// The executor runs it (interp/execute-tile.ts runElements); the CUDA and WGSL naive printers print it.
import type { Expr, Extent, IndexVar } from "../check/typed.js";
import type { NaiveStage } from "../plan/plan.js";

/**
 * One index variable of the element `flat` (below the product of the extents), the last variable fastest: it is the
 * rest modulo its extent, and the rest is then divided by it; the outermost one is the rest itself, which
 * `flat < total` keeps below its extent.
 */
export type FlatDigit = { readonly name: string; readonly extent: Extent; readonly outermost: boolean };

/** `vars` the element's index variables (outermost first), `digits` the order they are taken off `flat`. */
export type ElementProgram = {
  readonly kind: "elements";
  readonly target: string;
  readonly vars: readonly IndexVar[];
  readonly digits: readonly FlatDigit[];
  readonly value: Expr;
};

export const lowerNaiveStage = (stage: NaiveStage): ElementProgram => {
  const st = stage.statement;
  return { kind: "elements", target: st.target, vars: st.vars, digits: flatDigits(st.vars), value: st.value };
};

/** The statement's index variables in the order they are taken off `flat`: the last (fastest) first. */
const flatDigits = (vars: readonly IndexVar[]): FlatDigit[] =>
  vars.map((v, k) => ({ name: v.name, extent: v.extent, outermost: k === 0 })).reverse();
