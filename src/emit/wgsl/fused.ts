// Emit stage (WGSL): a fused attention stage, the online softmax of interp/execute-plan.ts over tiles in workgroup memory.
//
// A workgroup owns a query tile of one row tuple (b, h, ..) and walks the key tiles of the plan's key range.
// Each tile is classified once (empty: skipped where a masked score contributes 0; full: scored without any
// mask code; partial: masked, and every key past the end guarded). K and V tiles go through workgroup memory;
// each invocation keeps the running max, sum and output accumulator of its 4 query rows in registers.
// Scores are kept in log2 units (times log2(e)) so the exponentials are exp2.
import type { Expr, Extent, IndexVar } from "../../check/typed.js";
import { freeVars } from "../../check/free-vars.js";
import type { FusedStage } from "../../plan/plan.js";
import { identifier, printExpr, type LoadExpr } from "../expr.js";
import { CodeWriter } from "../writer.js";
import { tensorIdentifier, wgslDialect, wgslFloat } from "./dialect.js";
import type { BufferBinding } from "./layout.js";
import { elementAt, extentCode, pairAt, type Placement } from "./module.js";
import type { TileShape } from "./tile-shape.js";

export type FusedContext = {
  readonly binding: (tensor: string) => BufferBinding;
  readonly dims: (tensor: string) => readonly Extent[];
  readonly placement: Placement;
};

const [PARTIAL, FULL, EMPTY] = [0, 1, 2];
const lanes = ["x", "y", "z", "w"] as const;
const range = (n: number) => Array.from({ length: n }, (_, k) => k);
const minusInfinity = wgslFloat(-Infinity);
const lowest = wgslFloat(-3.4028234663852886e38);
const log2e = wgslFloat(Math.LOG2E);
const ln2 = wgslFloat(Math.LN2);

export function printFused(entry: string, stage: FusedStage, shape: TileShape, cx: FusedContext): string {
  const c = stage.chain;
  const D = (c.headVar.extent as { value: number }).value;
  const DV = (c.valueVar.extent as { value: number }).value;
  const { blockQ: BR, blockK: BC, colGroups: NX, rowGroups: NY, threads: T, paddedD, paddedDv, vec4PerThread: G, shareKV } = shape;
  const DP4 = paddedD / 4; // vec4s a Q row
  const KS = DP4 + 1; // vec4s a K row, padded
  const DVP4 = paddedDv / 4; // vec4s a V row
  const PS = BR / 4 + 1; // vec4s a P row (one key, all queries), padded
  const softmax = c.normalizer.kind === "softmax";
  const sink = c.normalizer.kind === "softmax" ? c.normalizer.sink : undefined;
  const v = (x: IndexVar) => identifier(x.name);
  const [iv, jv, dv, ev] = [c.queryVar, c.keyVar, c.headVar, c.valueVar].map(v);
  const kArray = shareKV ? `${entry}_kv` : `${entry}_k`;
  const vArray = shareKV ? `${entry}_kv` : `${entry}_v`;

  const decls = new CodeWriter();
  const w = new CodeWriter();
  const expr = (e: Expr) => printExpr(e, wgslDialect, w);
  const bool = (e: Expr) => (e.type === "bool" ? expr(e) : `(${expr(e)} != 0)`);
  const uses = (e: Expr | undefined, x: IndexVar) => e !== undefined && freeVars(e).has(x.name);

  decls.line(`// ${entry}: fused attention for \`${c.output.name}\`${c.extras.length > 0 ? ` (and ${c.extras.map((x) => `\`${x.output.name}\``).join(", ")})` : ""}.`);
  decls.line(`// Tiles of ${BR} queries x ${BC} keys; ${T} invocations (${NY} x ${NX}), each 4 queries x 4 keys and 4 x ${4 * G} outputs.`);
  decls.line(`// Workgroup memory: ${shape.bytes} bytes${shareKV ? "; K and V take turns in one array" : ""}.`);
  decls.line(`var<workgroup> ${entry}_q: array<vec4f, ${BR * DP4}>;  // Q tile: [query][d / 4]`);
  if (shareKV) decls.line(`var<workgroup> ${entry}_kv: array<vec4f, ${Math.max(BC * KS, BC * DVP4)}>;  // K tile [key][d / 4] (rows padded), then V tile [key][e / 4]`);
  else {
    decls.line(`var<workgroup> ${entry}_k: array<vec4f, ${BC * KS}>;  // K tile: [key][d / 4], rows padded by one vec4`);
    decls.line(`var<workgroup> ${entry}_v: array<vec4f, ${BC * DVP4}>;  // V tile: [key][e / 4]`);
  }
  decls.line(`var<workgroup> ${entry}_p: array<vec4f, ${BC * PS}>;  // P tile, transposed: [key][query / 4], rows padded`);
  decls.line(`var<workgroup> ${entry}_rows: array<f32, ${BR * NX}>;  // per query row, one value an invocation: tile maxima, then sums`);

  /** A value every invocation sees the same (loop bounds and branches around barriers must be uniform). */
  const uniform = (name: string, value: string) => {
    decls.line(`var<workgroup> ${entry}_${name}: i32;`);
    w.line(`if (lane == 0u) { ${entry}_${name} = ${value}; }`);
    w.line(`let ${name} = workgroupUniformLoad(&${entry}_${name});`);
  };

  /**
   * Loads a tile of `rows` x paddedD (or paddedDv) elements into workgroup memory, a vec4 along the inner dim at a
   * time. Rows past the end and inner indices past the dim are 0; the tensor is read only in range.
   */
  const loadTile = (o: {
    load: LoadExpr; outer: IndexVar; inner: IndexVar; innerDim: number; quads: number; rows: number;
    first: string; count: string; hoisted: string | undefined; target: (row: string, quad: string) => string;
  }) => {
    w.block(`for (var x = i32(lane); x < ${o.rows * o.quads}; x += ${T})`, () => {
      w.line(`let tile_row = x / ${o.quads};`);
      w.line(`let quad = x % ${o.quads};`);
      w.line(`let outer_raw = ${o.first} + tile_row;`);
      w.line(`let ${v(o.outer)} = min(outer_raw, ${o.count} - 1i);`);
      w.line("var value = vec4f(0.0f);");
      w.block(`if (outer_raw < ${o.count})`, () => {
        const fast = fastOffset(o.load, cx.dims(o.load.tensor), o.outer, o.inner, o.innerDim, o.hoisted);
        if (fast !== undefined) {
          const b = cx.binding(o.load.tensor);
          w.line(`let base = ${fast} + quad * 4i;`);
          if (b.storage === "f16x2" || b.storage === "bf16x2") {
            w.line("let word = u32(base) >> 1u;");
            w.line(`value = vec4f(${pairAt(b, "word", cx.placement)}, ${pairAt(b, "word + 1u", cx.placement)});`);
          } else {
            w.line("let at = u32(base);");
            const element = (k: number) => elementAt(b, k === 0 ? "at" : `(at + ${k}u)`, cx.placement);
            w.line(`value = vec4f(${range(4).map((k) => (b.storage === "i32" ? `f32(${element(k)})` : element(k))).join(", ")});`);
          }
        } else {
          for (const k of range(4)) {
            w.block("", () => {
              w.line(`let ${v(o.inner)} = quad * 4i + ${k}i;`);
              const value = `f32(${expr(o.load)})`;
              w.line(`value.${lanes[k]} = ${4 * o.quads > o.innerDim ? `select(0.0f, ${value}, ${v(o.inner)} < ${o.innerDim}i)` : value};`);
            });
          }
        }
      });
      w.line(`${o.target("tile_row", "quad")} = value;`);
    });
  };

  w.line(`@compute @workgroup_size(${T})`);
  w.block(`fn ${entry}(@builtin(workgroup_id) group: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lane: u32)`, () => {
    w.line("_ = params[0].x;  // every stage binds the parameters");
    w.line(`let tx = i32(lane % ${NX}u);  // which keys of the tile (tx + ${NX} * k) and output columns`);
    w.line(`let ty = i32(lane / ${NX}u);  // which 4 queries of the tile`);
    w.line(`let query_count = ${extentCode(c.queryVar.extent)};`);
    w.line(`let key_count = ${extentCode(c.keyVar.extent)};`);
    w.line(`let row_count = ${c.rowVars.map((x) => extentCode(x.extent)).join(" * ") || "1i"};`);
    w.line("// The heaviest query tiles first: under a causal mask the last queries see the most keys.");
    w.line(`let r_i0 = (i32(groups.x) - 1i - i32(group.x)) * ${BR}i;`);
    w.line(`let r_i1 = min(r_i0 + ${BR}i, query_count) - 1i;`);
    w.line("let first_query = r_i0 + ty * 4i;");
    w.block("for (var row = i32(group.y); row < row_count; row += i32(groups.y))", () => {
      if (c.rowVars.length > 0) w.line("var rest = row;");
      for (let x = c.rowVars.length - 1; x >= 0; x--) {
        const name = v(c.rowVars[x]);
        if (x > 0) {
          w.line(`let ${name} = rest % ${extentCode(c.rowVars[x].extent)};`);
          w.line(`rest = rest / ${extentCode(c.rowVars[x].extent)};`);
        } else w.line(`let ${name} = rest;`);
      }
      const hoist = (name: string, load: LoadExpr, tileVar: IndexVar, inner: IndexVar): string | undefined => {
        const prefix = hoistedPrefix(load, cx.dims(load.tensor), tileVar, inner);
        if (prefix === undefined) return undefined;
        w.line(`let ${name} = ${prefix};  // the part of \`${load.tensor}\`'s offset fixed for the row`);
        return name;
      };
      const qBase = hoist("q_row_base", c.q, c.queryVar, c.headVar);
      const kBase = hoist("k_row_base", c.k, c.keyVar, c.headVar);
      const vBase = hoist("v_row_base", c.v, c.keyVar, c.valueVar);

      w.line("// The query tile, once a row tuple.");
      loadTile({
        load: c.q, outer: c.queryVar, inner: c.headVar, innerDim: D, quads: DP4, rows: BR, first: "r_i0", count: "query_count",
        hoisted: qBase, target: (r, q) => `${entry}_q[${r} * ${DP4} + ${q}]`,
      });
      w.line("// Running statistics of this invocation's 4 queries (m in log2 units), and their output accumulators.");
      for (const r of range(4)) {
        if (softmax) w.line(`var m${r} = ${minusInfinity};`);
        if (softmax) w.line(`var l${r} = 0.0f;`);
        w.line(range(G).map((g) => `var o${r}_${g} = vec4f(0.0f);`).join(" "));
      }
      uniform("key_lo", stage.keyRange.lo ? `max(0i, ${expr(stage.keyRange.lo)})` : "0i");
      uniform("key_hi", stage.keyRange.hi ? `min(key_count - 1i, ${expr(stage.keyRange.hi)})` : "key_count - 1i");
      w.line(`let tiles_begin = select(0i, key_lo / ${BC}i, key_lo <= key_hi);`);
      w.line(`let tiles_end = select(0i, key_hi / ${BC}i + 1i, key_lo <= key_hi);`);
      w.block("for (var tile = tiles_begin; tile < tiles_end; tile++)", () => {
        w.line(`let r_j0 = tile * ${BC}i;`);
        w.line(`let r_j1 = min(r_j0 + ${BC}i, key_count) - 1i;`);
        w.line(`// ${PARTIAL}: partial, ${FULL}: full (every score counts; never the last, short tile), ${EMPTY}: empty.`);
        uniform("tile_class", `select(select(${PARTIAL}i, ${FULL}i, ${bool(stage.tiles.full)} && r_j0 + ${BC}i <= key_count), ${EMPTY}i, ${bool(stage.tiles.empty)})`);
        if (c.maskedIsZero) w.line(`if (tile_class == ${EMPTY}i) { continue; }`);
        loadTile({
          load: c.k, outer: c.keyVar, inner: c.headVar, innerDim: D, quads: DP4, rows: BC, first: "r_j0", count: "key_count",
          hoisted: kBase, target: (r, q) => `${kArray}[${r} * ${KS} + ${q}]`,
        });
        const loadV = () => loadTile({
          load: c.v, outer: c.keyVar, inner: c.valueVar, innerDim: DV, quads: DVP4, rows: BC, first: "r_j0", count: "key_count",
          hoisted: vBase, target: (r, q) => `${vArray}[${r} * ${DVP4} + ${q}]`,
        });
        if (!shareKV) loadV();
        w.line("workgroupBarrier();");

        w.line("// Scores of this invocation's 4 queries (s0..s3) and keys (components), from the tiles.");
        w.line(range(4).map((r) => `var s${r} = vec4f(0.0f);`).join(" "));
        w.block(`for (var d4 = 0i; d4 < ${DP4}i; d4++)`, () => {
          for (const r of range(4)) w.line(`let q${r} = ${entry}_q[(ty * 4i + ${r}i) * ${DP4} + d4];`);
          for (const k of range(4)) w.line(`let k${k} = ${kArray}[(tx + ${k * NX}i) * ${KS} + d4];`);
          for (const l of lanes) w.line(`let k_${l} = vec4f(k0.${l}, k1.${l}, k2.${l}, k3.${l});`);
          for (const r of range(4)) w.line(lanes.map((l) => `s${r} = fma(vec4f(q${r}.${l}), k_${l}, s${r});`).join(" "));
        });

        const scoreElement = (r: number, k: number, guarded: boolean) => {
          w.block("", () => {
            const at = `s${r}.${lanes[k]}`;
            if (guarded) w.line(`let key_raw = r_j0 + tx + ${k * NX}i;`);
            const needI = uses(c.scoreMod, c.queryVar) || (guarded && uses(c.mask, c.queryVar)) || uses(c.normalizer.kind === "elementwise" ? c.normalizer.fn : undefined, c.queryVar);
            const needJ = uses(c.scoreMod, c.keyVar) || (guarded && uses(c.mask, c.keyVar)) || uses(c.normalizer.kind === "elementwise" ? c.normalizer.fn : undefined, c.keyVar);
            if (needI) w.line(`let ${iv} = min(first_query + ${r}i, query_count - 1i);`);
            if (needJ) w.line(`let ${jv} = ${guarded ? "min(key_raw, key_count - 1i)" : `r_j0 + tx + ${k * NX}i`};`);
            w.line(`let r_score = ${at};`);
            const keep = guarded ? `key_raw < key_count${c.mask ? ` && ${bool(c.mask)}` : ""}` : undefined;
            if (c.normalizer.kind === "softmax") {
              const scaled = `${expr(c.scoreMod)} * ${log2e}`;
              w.line(`${at} = ${keep ? `select(${minusInfinity}, ${scaled}, ${keep})` : scaled};`);
            } else {
              // An element-wise normaliser sees -inf where the mask says so; keys past the end contribute nothing.
              const masked = c.mask && guarded ? `select(${minusInfinity}, ${expr(c.scoreMod)}, ${bool(c.mask)})` : expr(c.scoreMod);
              w.line(`let r_x = ${masked};`);
              const p = expr(c.normalizer.fn);
              w.line(`${at} = ${guarded ? `select(0.0f, ${p}, key_raw < key_count)` : p};`);
            }
          });
        };
        w.block(`if (tile_class == ${FULL}i)`, () => {
          w.line("// A full tile: no mask code.");
          for (const r of range(4)) for (const k of range(4)) scoreElement(r, k, false);
        }, "} else {");
        w.indented(() => {
          w.line("// A partial tile: the mask, and keys past the end.");
          for (const r of range(4)) for (const k of range(4)) scoreElement(r, k, true);
        });
        w.line("}");

        if (softmax) {
          w.line("// The tile's row maxima over the workgroup: each invocation's 4 keys, then across a query's invocations.");
          for (const r of range(4)) w.line(`${entry}_rows[(ty * 4i + ${r}i) * ${NX} + tx] = max(max(s${r}.x, s${r}.y), max(s${r}.z, s${r}.w));`);
          w.line("workgroupBarrier();");
          for (const r of range(4)) w.line(`var tile_max${r} = m${r};`);
          w.block(`for (var t = 0i; t < ${NX}i; t++)`, () => {
            for (const r of range(4)) w.line(`tile_max${r} = max(tile_max${r}, ${entry}_rows[(ty * 4i + ${r}i) * ${NX} + t]);`);
          });
          w.line("// A query that has seen only -inf keeps its base at the lowest f32, so exp2 gives 0, never NaN.");
          for (const r of range(4)) {
            w.line(`let base${r} = max(tile_max${r}, ${lowest});`);
            w.line(`let alpha${r} = exp2(m${r} - base${r});`);
            w.line(`s${r} = exp2(s${r} - vec4f(base${r}));`);
            w.line(`l${r} = l${r} * alpha${r} + (s${r}.x + s${r}.y + s${r}.z + s${r}.w);`);
            w.line(range(G).map((g) => `o${r}_${g} = o${r}_${g} * alpha${r};`).join(" "));
            w.line(`m${r} = tile_max${r};`);
          }
        }
        if (shareKV) {
          if (!softmax) w.line("workgroupBarrier();");
          w.line("// Every invocation is done with K: V takes its place.");
          loadV();
        }
        w.line("// P to workgroup memory, transposed, for P V.");
        for (const k of range(4)) w.line(`${entry}_p[(tx + ${k * NX}i) * ${PS} + ty] = vec4f(${range(4).map((r) => `s${r}.${lanes[k]}`).join(", ")});`);
        w.line("workgroupBarrier();");
        w.block(`for (var key = 0i; key < ${BC}i; key++)`, () => {
          w.line(`let p = ${entry}_p[key * ${PS} + ty];`);
          for (const g of range(G)) w.line(`let v${g} = ${vArray}[key * ${DVP4} + ${g * NX}i + tx];`);
          for (const r of range(4)) w.line(range(G).map((g) => `o${r}_${g} = fma(vec4f(p.${lanes[r]}), v${g}, o${r}_${g});`).join(" "));
        });
        w.line("workgroupBarrier();");
      });

      if (softmax) {
        w.line("// Row sums over the workgroup: each invocation summed its own keys.");
        for (const r of range(4)) w.line(`${entry}_rows[(ty * 4i + ${r}i) * ${NX} + tx] = l${r};`);
        w.line("workgroupBarrier();");
        for (const r of range(4)) w.line(`var sum${r} = 0.0f;`);
        w.block(`for (var t = 0i; t < ${NX}i; t++)`, () => {
          for (const r of range(4)) w.line(`sum${r} = sum${r} + ${entry}_rows[(ty * 4i + ${r}i) * ${NX} + t];`);
        });
      }
      for (const r of range(4)) {
        w.block(`if (first_query + ${r}i < query_count)`, () => {
          w.line(`let ${iv} = first_query + ${r}i;`);
          let scale = "1.0f";
          if (softmax) {
            if (c.extras.length > 0) {
              w.block("if (tx == 0i)", () => {
                for (const extra of c.extras) {
                  w.block("", () => {
                    w.line(extra.kind === "logsumexp"
                      ? `let r_stat = select(${minusInfinity}, (m${r} + log2(sum${r})) * ${ln2}, sum${r} > 0.0f);`
                      : `let r_stat = m${r} * ${ln2};`);
                    w.line(`st_${tensorIdentifier(extra.output.name)}(${[...extra.outputVars.map(v), store(expr(extra.epilogue), extra.epilogue, extra.output.dtype === "i32")].join(", ")});`);
                  });
                }
              });
            }
            if (sink !== undefined) {
              w.line("// The sink joins the denominator only.");
              w.line(`let sink = ${expr(sink)} * ${log2e};`);
              w.line(`let base = max(max(m${r}, sink), ${lowest});`);
              w.line(`let rescale = exp2(m${r} - base);`);
              w.line(`let denominator = sum${r} * rescale + exp2(sink - base);`);
              w.line("let scale = select(0.0f, rescale / denominator, denominator > 0.0f);");
            } else {
              w.line(`let scale = select(0.0f, 1.0f / sum${r}, sum${r} > 0.0f);`);
            }
            scale = "scale";
          }
          for (const g of range(G)) {
            for (const k of range(4)) {
              w.block("", () => {
                w.line(`let ${ev} = ${g * NX * 4 + k}i + tx * 4i;`);
                const body = () => {
                  w.line(`let r_acc = o${r}_${g}.${lanes[k]}${scale === "1.0f" ? "" : ` * ${scale}`};`);
                  w.line(`st_${tensorIdentifier(c.output.name)}(${[...c.outputVars.map(v), store(expr(c.epilogue), c.epilogue, c.output.dtype === "i32")].join(", ")});`);
                };
                if (paddedDv > DV) w.block(`if (${ev} < ${DV}i)`, body);
                else body();
              });
            }
          }
        });
      }
      w.line("workgroupBarrier();");
    });
  });
  void dv;
  return `${decls.toString()}\n${w.toString()}`;
}

const store = (code: string, e: Expr, isInt: boolean): string =>
  e.type === "bool" ? `select(${isInt ? "0i, 1i" : "0.0f, 1.0f"}, ${code})` : (e.type === "int") !== isInt ? `${isInt ? "i32" : "f32"}(${code})` : code;

/**
 * The load's offset without the inner index, as WGSL, where the inner index is the last one and appears nowhere
 * else (so a row of the tile is contiguous): the element at inner index x is at offset + x.
 */
function fastOffset(load: LoadExpr, dims: readonly Extent[], outer: IndexVar, inner: IndexVar, innerDim: number, hoisted: string | undefined): string | undefined {
  const split = splitIndices(load, dims, outer, inner, innerDim);
  if (split === undefined) return undefined;
  let acc = hoisted ?? "";
  for (let k = split.firstVarying; k < split.indices.length - 1; k++) {
    const index = split.index(k);
    acc = acc === "" ? index : `(${acc}) * ${split.dim(k)} + ${index}`;
  }
  return `(${acc || "0i"}) * ${innerDim}i`;
}

/** The flat offset of the leading indices that do not depend on the tile's variable, computed once a row tuple. */
function hoistedPrefix(load: LoadExpr, dims: readonly Extent[], outer: IndexVar, inner: IndexVar): string | undefined {
  const innerDim = (inner.extent as { value: number }).value;
  const split = splitIndices(load, dims, outer, inner, innerDim);
  if (split === undefined || split.firstVarying === 0) return undefined;
  let acc = "";
  for (let k = 0; k < split.firstVarying; k++) acc = acc === "" ? split.index(k) : `(${acc}) * ${split.dim(k)} + ${split.index(k)}`;
  return acc;
}

function splitIndices(load: LoadExpr, dims: readonly Extent[], outer: IndexVar, inner: IndexVar, innerDim: number) {
  const n = load.indices.length;
  const last = load.indices[n - 1];
  if (innerDim % 4 !== 0 || last?.kind !== "var" || last.name !== inner.name) return undefined;
  if (load.indices.slice(0, n - 1).some((x) => freeVars(x).has(inner.name))) return undefined;
  const varying = load.indices.findIndex((x) => freeVars(x).has(outer.name));
  // Indices are printed without a writer: they must not need hoisted loops (reductions inside an index).
  const scratch = new CodeWriter();
  const printed = load.indices.map((x) => printExpr(x, wgslDialect, scratch));
  if (scratch.toString().trim() !== "") return undefined;
  return {
    indices: load.indices,
    firstVarying: varying < 0 ? n - 1 : varying,
    index: (k: number) => (load.clamped[k] ? `attnc_index(${printed[k]}, ${extentCode(dims[k])})` : printed[k]),
    dim: (k: number) => extentCode(dims[k]),
  };
}
