// Emit stage: how a naive stage's flat element number splits into its statement's index variables, as data that
// the CUDA and WGSL naive printers each spell (emit/cuda/naive.ts, emit/wgsl/naive.ts).
import type { Extent, IndexVar } from "../check/typed.js";

/**
 * One index variable of the element `flat` (below the product of the extents), the last variable fastest: it is the
 * rest modulo its extent, and the rest is then divided by it; the outermost one is the rest itself, which
 * `flat < total` keeps below its extent.
 */
export type FlatDigit = { readonly name: string; readonly extent: Extent; readonly outermost: boolean };

/** The statement's index variables in the order they are taken off `flat`: the last (fastest) first. */
export const flatDigits = (vars: readonly IndexVar[]): FlatDigit[] =>
  vars.map((v, k) => ({ name: v.name, extent: v.extent, outermost: k === 0 })).reverse();
