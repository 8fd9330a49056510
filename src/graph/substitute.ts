// Graph stage: capture-avoiding substitution of index variables, and structural equality up to renaming.
import type { Expr } from "../check/typed.js";
import { extentEquals } from "../check/typed.js";
import { freeVars } from "../check/free-vars.js";
import { children, mapChildren } from "./walk.js";

/** Fresh names contain `'`, which no source identifier can, so they never capture a user's variable. */
export type NameSupply = { next: number };
export const freshName = (base: string, supply: NameSupply): string => `${base.split("'")[0]}'${++supply.next}`;

/** Replaces free index variables by expressions; bound variables are renamed where they would capture. */
export function substitute(e: Expr, map: ReadonlyMap<string, Expr>, supply: NameSupply): Expr {
  if (map.size === 0) return e;
  switch (e.kind) {
    case "var":
      return map.get(e.name) ?? e;
    case "reduce": {
      const incoming = new Set([...map.values()].flatMap((x) => [...freeVars(x)]));
      const inner = new Map(map);
      const vars = e.vars.map((v) => {
        inner.delete(v.name);
        if (!incoming.has(v.name)) return v;
        const name = freshName(v.name, supply);
        inner.set(v.name, { kind: "var", name, type: "int", span: e.span });
        return { ...v, name };
      });
      return { ...e, vars, body: substitute(e.body, inner, supply) };
    }
    case "softmax": {
      // softmax[j] names the variable it normalises over; renaming j renames the axis too.
      const vars = e.vars.map((v) => {
        const to = map.get(v.name);
        return to?.kind === "var" ? { ...v, name: to.name } : v;
      });
      return { ...(mapChildren(e, (c) => substitute(c, map, supply)) as typeof e), vars };
    }
    default:
      return mapChildren(e, (c) => substitute(c, map, supply));
  }
}

export const renameVar = (e: Expr, from: string, to: string, supply: NameSupply): Expr =>
  substitute(e, new Map([[from, { kind: "var", name: to, type: "int", span: e.span } as Expr]]), supply);

/**
 * Structural equality ignoring spans, with bound variables compared up to renaming. The renaming is a bijection:
 * a variable bound in one expression matches only the variable bound at the same place in the other, never a free
 * one of the same name (`sum[d](q[i, d] * k[j, d])` is not `sum[i](q[i, i] * k[j, i])`, whose `i` is bound), and
 * free variables match by name.
 */
export function exprEqual(a: Expr, b: Expr): boolean {
  return equalUnder(a, b, { left: new Map(), right: new Map() });
}

/** The binders in scope: each bound name of one side to the name bound at the same place on the other. */
type Binders = { readonly left: ReadonlyMap<string, string>; readonly right: ReadonlyMap<string, string> };

/** Whether `x` on the left and `y` on the right are the same variable: both bound together, or both free and equal. */
function sameVar(x: string, y: string, scope: Binders): boolean {
  const boundLeft = scope.left.get(x);
  const boundRight = scope.right.get(y);
  if (boundLeft === undefined && boundRight === undefined) return x === y;
  return boundLeft === y && boundRight === x;
}

function equalUnder(a: Expr, b: Expr, scope: Binders): boolean {
  if (a.kind !== b.kind || a.type !== b.type) return false;
  switch (a.kind) {
    case "const": return Object.is(a.value, (b as typeof a).value) || a.value === (b as typeof a).value;
    case "var": return sameVar(a.name, (b as typeof a).name, scope);
    case "size": case "scalar": case "ref": return a.name === (b as typeof a).name;
    case "load": if (a.tensor !== (b as typeof a).tensor) return false; break;
    case "unary": case "binary": if (a.op !== (b as typeof a).op) return false; break;
    case "call": if (a.fn !== (b as typeof a).fn || a.args.length !== (b as typeof a).args.length) return false; break;
    case "reduce": {
      const r = b as typeof a;
      if (a.op !== r.op || a.vars.length !== r.vars.length) return false;
      if (!a.vars.every((v, k) => extentEquals(v.extent, r.vars[k].extent))) return false;
      const left = new Map(scope.left);
      const right = new Map(scope.right);
      a.vars.forEach((v, k) => {
        left.set(v.name, r.vars[k].name);
        right.set(r.vars[k].name, v.name);
      });
      return equalUnder(a.body, r.body, { left, right });
    }
    case "softmax": {
      // softmax[j] reads the current j (its axis stays free): the axes compare as variables in scope.
      const r = b as typeof a;
      if (a.vars.length !== r.vars.length || (a.sink === undefined) !== (r.sink === undefined)) return false;
      if (!a.vars.every((v, k) => sameVar(v.name, r.vars[k].name, scope) && extentEquals(v.extent, r.vars[k].extent))) return false;
      break;
    }
    default: break;
  }
  const ca = children(a);
  const cb = children(b);
  return ca.length === cb.length && ca.every((x, k) => equalUnder(x, cb[k], scope));
}

