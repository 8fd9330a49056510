// Graph stage: capture-avoiding substitution of index variables, and structural equality up to renaming.
import type { Expr } from "../check/typed.js";
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

/** Structural equality ignoring spans, with bound variables compared up to renaming. */
export function exprEqual(a: Expr, b: Expr, bound: ReadonlyMap<string, string> = new Map()): boolean {
  if (a.kind !== b.kind || a.type !== b.type) return false;
  switch (a.kind) {
    case "const": return Object.is(a.value, (b as typeof a).value) || a.value === (b as typeof a).value;
    case "var": return (bound.get((b as typeof a).name) ?? (b as typeof a).name) === a.name;
    case "size": case "scalar": case "ref": return a.name === (b as typeof a).name;
    case "load": if (a.tensor !== (b as typeof a).tensor) return false; break;
    case "unary": case "binary": if (a.op !== (b as typeof a).op) return false; break;
    case "call": if (a.fn !== (b as typeof a).fn || a.args.length !== (b as typeof a).args.length) return false; break;
    case "reduce": {
      const r = b as typeof a;
      if (a.op !== r.op || a.vars.length !== r.vars.length) return false;
      const inner = new Map(bound);
      a.vars.forEach((v, k) => inner.set(r.vars[k].name, v.name));
      return exprEqual(a.body, r.body, inner);
    }
    case "softmax": {
      const r = b as typeof a;
      if (a.vars.length !== r.vars.length || (a.sink === undefined) !== (r.sink === undefined)) return false;
      if (!a.vars.every((v, k) => (bound.get(r.vars[k].name) ?? r.vars[k].name) === v.name)) return false;
      break;
    }
    default: break;
  }
  const ca = children(a);
  const cb = children(b);
  return ca.length === cb.length && ca.every((x, k) => exprEqual(x, cb[k], bound));
}

export const dependsOn = (e: Expr, name: string): boolean => freeVars(e).has(name);
