// Graph rewrite (for the CUDA schedule and printers): tensor reads in the score function and mask hoisted out of
// the per-score code: those that do not depend on the key are loaded once per query row before the key loop, those
// that do not depend on the query once per key column of each tile.
import type { Expr, RefName } from "../check/typed.js";
import { exprEqual } from "./substitute.js";
import { mapChildren, some } from "./walk.js";

/** A hoisted value: `over` "row" is read per query row, "column" per key column. */
export type Hoisted = { readonly name: RefName; readonly value: Expr; readonly over: "row" | "column" };

/**
 * Replaces each largest sub-expression that reads a tensor but neither `free` (the key variable for "row", the
 * query variable for "column") nor a kernel value (`ref`) by a `ref hN`, appending it to `hoisted` (equal
 * sub-expressions share one). Loads are clamped in range, so evaluating one before its branch is taken is safe.
 */
export function hoist(e: Expr, over: Hoisted["over"], free: string, hoisted: Hoisted[]): Expr {
  const independent = !some(e, (x) => x.kind === "ref" || x.kind === "reduce" || x.kind === "softmax" || (x.kind === "var" && x.name === free));
  if (independent && some(e, (x) => x.kind === "load")) {
    const known = hoisted.find((h) => h.over === over && exprEqual(h.value, e));
    const name = known?.name ?? (`h${hoisted.length}` as const);
    if (known === undefined) hoisted.push({ name, value: e, over });
    return { kind: "ref", name, type: e.type, span: e.span };
  }
  return mapChildren(e, (c) => hoist(c, over, free, hoisted));
}

/** A score function and mask with their row reads (free of `key`) and then their column reads (free of `query`) hoisted. */
export function hoistScoreReads(scoreMod: Expr, mask: Expr | undefined, key: string, query: string): { scoreMod: Expr; mask: Expr | undefined; hoisted: Hoisted[] } {
  const hoisted: Hoisted[] = [];
  const both = (e: Expr) => hoist(hoist(e, "row", key, hoisted), "column", query, hoisted);
  const hoistedScore = both(scoreMod);
  return { scoreMod: hoistedScore, mask: mask === undefined ? undefined : both(mask), hoisted };
}
