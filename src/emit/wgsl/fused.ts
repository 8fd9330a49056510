// Emit stage (WGSL): a fused stage's tile program (tile/types.ts) over tiles in workgroup memory.
//
// A workgroup owns a query tile of one row tuple (b, h, ..) and walks the key tiles of the plan's key range.
// Each tile is classified once (empty: skipped where a masked score contributes 0; full: scored without any
// mask code; partial: masked, and every key past the end guarded). K and V tiles go through workgroup memory;
// each invocation keeps the running max, sum and output accumulator of its 4 query rows in registers.
// Scores are kept in log2 units (times log2(e)) so the exponentials are exp2. Q, K and V tiles of tensors stored as
// packed halves stay packed in workgroup memory (a vec2u of two words for 4 elements) and are unpacked where read.
// A key tile waits at barriers for its tiles, the row maxima (softmax), P, and before the next tile overwrites
// them; its class costs one more only where it is read from a run-time tile table.
import type { Expr, Extent, IndexVar } from "../../check/typed.js";
import { freeVars } from "../../check/free-vars.js";
import { some } from "../../graph/walk.js";
import type { Assign, Register, TileProgram } from "../../tile/types.js";
import { opsOf } from "../../tile/lower.js";
import { printScalar, type ScalarSpelling } from "../../tile/print.js";
import { identifier, printAssigns, printExpr, printsInline, type LoadExpr } from "../expr.js";
import { CodeWriter } from "../writer.js";
import { commentText } from "../names.js";
import { noTensorUses, recordingDialect, storedValue, tensorIdentifier, wgslFloat, type TensorUses } from "./dialect.js";
import type { BufferBinding } from "../../manifest.js";
import { elementAt, extentCode, pairAt, word, type Placement } from "./module.js";
import type { TileForm, WgslTile as TileShape } from "../../schedule/types.js";

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
const largest = wgslFloat(3.4028234663852886e38);

/** How WGSL spells the tile program's row formulas, with `reg` the spelling of each register where they are printed. */
export const wgslScalars = (expr: (e: Expr) => string, reg: (r: Register) => string): ScalarSpelling => ({
  reg, float: wgslFloat, expr, noKeys: "key_count == 0i", exp2: (a) => `exp2(${a})`, log2: (a) => `log2(${a})`, max: (a, b) => `max(${a}, ${b})`,
  belowInf: (a) => `min(${a}, ${largest})`, finite: (a) => `min(max(${a}, ${lowest}), ${largest})`, fma: (a, b, c) => `fma(${a}, ${b}, ${c})`,
  select: (cond, then, otherwise) => `select(${otherwise}, ${then}, ${cond})`,
});

/** The WGSL type of a tile's slot of 4 elements. */
const slotType = (f: TileForm) => (f === "f32" ? "vec4f" : "vec2u");

/** A slot (a name) as a vec4f: packed halves are widened, exactly. bfloat16 is the high half of an f32. */
const unpackSlot = (f: TileForm, slot: string): string => {
  switch (f) {
    case "f32":
      return slot;
    case "f16x2":
      return `vec4f(unpack2x16float(${slot}.x), unpack2x16float(${slot}.y))`;
    case "bf16x2":
      return `bitcast<vec4f>(vec4u(${slot}.x << 16u, ${slot}.x & 0xffff0000u, ${slot}.y << 16u, ${slot}.y & 0xffff0000u))`;
  }
};

/** A vec4f (a name) of values the tensor holds exactly, as a slot of the form. */
const packSlot = (f: TileForm, value: string): string => {
  switch (f) {
    case "f32":
      return value;
    case "f16x2":
      return `vec2u(pack2x16float(${value}.xy), pack2x16float(${value}.zw))`;
    case "bf16x2": {
      const bits = `bitcast<vec4u>(${value})`;
      return `vec2u((${bits}.x >> 16u) | (${bits}.y & 0xffff0000u), (${bits}.z >> 16u) | (${bits}.w & 0xffff0000u))`;
    }
  }
};

/** The stage's code, and the tensors it names. */
export function printFused(entry: string, program: TileProgram, shape: TileShape, cx: FusedContext): { code: string; uses: TensorUses } {
  const stage = program.stage;
  const tensorUses = noTensorUses();
  const dialect = recordingDialect(tensorUses);
  const c = stage.chain;
  const D = (c.headVar.extent as { value: number }).value;
  const DV = (c.valueVar.extent as { value: number }).value;
  const { blockQ: BR, blockK: BC, colGroups: NX, rowGroups: NY, threads: T, paddedD, paddedDv, vec4PerThread: G, shareKV, forms } = shape;
  const DP4 = paddedD / 4; // vec4s a Q row
  const KS = DP4 + 1; // vec4s a K row, padded
  const DVP4 = paddedDv / 4; // vec4s a V row
  const PS = BR / 4 + 1; // vec4s a P row (one key, all queries), padded
  const softmax = program.state.length > 0;
  const scoreMod = opsOf(program, "scoreMod")[0]?.value ?? c.scoreMod;
  const normalise = opsOf(program, "normalise")[0]?.fn;
  const v = (x: IndexVar) => identifier(x.name);
  const [iv, jv, ev] = [c.queryVar, c.keyVar, c.valueVar].map(v);
  const kArray = shareKV ? `${entry}_kv` : `${entry}_k`;
  const vArray = shareKV ? `${entry}_kv` : `${entry}_v`;

  const decls = new CodeWriter();
  const w = new CodeWriter();
  const expr = (e: Expr) => printExpr(e, dialect, w);
  const bool = (e: Expr) => (e.type === "bool" ? expr(e) : `(${expr(e)} != 0)`);
  const spelling = (reg: (r: Register) => string) => wgslScalars(expr, reg);
  /** Prints row formulas; a register not in `declared` becomes a var where first assigned. */
  const assigns = (steps: readonly Assign[], reg: (r: Register) => string, declared: Set<Register>) => printAssigns(w, steps, spelling(reg), declared, "var");
  const registerNames: Partial<Record<Register, string>> = { rowMax: "m", rowSum: "l", tileMax: "tile_max", score: "s" };
  const finishNames: Partial<Record<Register, string>> = { stat: "r_stat", finalMax: "final_max", finalBase: "final_base" };
  /** Query row r's register (the score: its vec4 of 4 keys). */
  const rowRegister = (r: number) => (x: Register) => finishNames[x] ?? `${registerNames[x] ?? x}${r}`;
  const uses = (e: Expr | undefined, x: IndexVar) => e !== undefined && freeVars(e).has(x.name);

  decls.line(`// ${entry}: fused attention for \`${commentText(c.output.name)}\`${c.extras.length > 0 ? ` (and ${c.extras.map((x) => `\`${commentText(x.output.name)}\``).join(", ")})` : ""}.`);
  decls.line(`// Tiles of ${BR} queries x ${BC} keys; ${T} invocations (${NY} x ${NX}), each 4 queries x 4 keys and 4 x ${4 * G} outputs.`);
  decls.line(`// Workgroup memory: ${shape.bytes} bytes${shareKV ? "; K and V take turns in one array" : ""}.`);
  const packedNote = (f: TileForm) => (f === "f32" ? "" : `, ${f === "f16x2" ? "f16" : "bf16"} packed two to a word`);
  decls.line(`var<workgroup> ${entry}_q: array<${slotType(forms.q)}, ${BR * DP4}>;  // Q tile: [query][d / 4]${packedNote(forms.q)}`);
  if (shareKV) decls.line(`var<workgroup> ${entry}_kv: array<${slotType(forms.k)}, ${Math.max(BC * KS, BC * DVP4)}>;  // K tile [key][d / 4] (rows padded), then V tile [key][e / 4]${packedNote(forms.k)}`);
  else {
    decls.line(`var<workgroup> ${entry}_k: array<${slotType(forms.k)}, ${BC * KS}>;  // K tile: [key][d / 4], rows padded by one slot${packedNote(forms.k)}`);
    decls.line(`var<workgroup> ${entry}_v: array<${slotType(forms.v)}, ${BC * DVP4}>;  // V tile: [key][e / 4]${packedNote(forms.v)}`);
  }
  decls.line(`var<workgroup> ${entry}_p: array<${slotType(forms.p)}, ${BC * PS}>;  // P tile, transposed: [key][query / 4], rows padded${forms.p === "f32" ? "" : ", rounded to f16 two to a word"}`);
  decls.line(`var<workgroup> ${entry}_rows: array<vec4f, ${NY * NX}>;  // [ty][tx]: an invocation's 4 query rows, one value each: tile maxima, then sums`);

  /** A value every invocation sees the same (loop bounds and branches around barriers must be uniform). */
  const uniform = (name: string, value: string) => {
    decls.line(`var<workgroup> ${entry}_${name}: i32;`);
    w.line(`if (lane == 0u) { ${entry}_${name} = ${value}; }`);
    w.line(`let ${name} = workgroupUniformLoad(&${entry}_${name});`);
  };

  type TileLoad = {
    load: LoadExpr; outer: IndexVar; inner: IndexVar; innerDim: number; quads: number; rows: number; form: TileForm;
    first: string; count: string; hoisted: string | undefined; target: (row: string, quad: string) => string;
  };
  /** The tile's slot `x` (an i32 in scope) into `into` (declared, zero). */
  const fetchSlot = (o: TileLoad, into: string) => {
    w.line(`let tile_row = x / ${o.quads};`);
    w.line(`let quad = x % ${o.quads};`);
    w.line(`let outer_raw = ${o.first} + tile_row;`);
    w.line(`let ${v(o.outer)} = min(outer_raw, ${o.count} - 1i);`);
    const packed = o.form !== "f32";
    w.block(`if (outer_raw < ${o.count})`, () => {
      const fast = fastOffset(o.load, cx.dims(o.load.tensor), o.outer, o.inner, o.innerDim, o.hoisted, tensorUses);
      const b = cx.binding(o.load.tensor);
      if (fast !== undefined) tensorUses.words.add(o.load.tensor);
      const value = packed ? "value" : into;
      if (fast !== undefined && packed && b.storage === o.form) {
        w.line(`let word = u32(${fast} + quad * 4i) >> 1u;`);
        w.line(`${into} = vec2u(${word(b, "word", cx.placement)}, ${word(b, "word + 1u", cx.placement)});`);
      } else if (fast !== undefined) {
        w.line(`let base = ${fast} + quad * 4i;`);
        if (packed) w.line("var value = vec4f(0.0f);");
        if (b.storage === "f16x2" || b.storage === "bf16x2") {
          w.line("let word = u32(base) >> 1u;");
          w.line(`${value} = vec4f(${pairAt(b, "word", cx.placement)}, ${pairAt(b, "word + 1u", cx.placement)});`);
        } else {
          w.line("let at = u32(base);");
          const element = (k: number) => elementAt(b, k === 0 ? "at" : `(at + ${k}u)`, cx.placement);
          w.line(`${value} = vec4f(${range(4).map((k) => (b.storage === "i32" ? `f32(${element(k)})` : element(k))).join(", ")});`);
        }
        if (packed) w.line(`${into} = ${packSlot(o.form, "value")};`);
      } else {
        if (packed) w.line("var value = vec4f(0.0f);");
        for (const k of range(4)) {
          w.block("", () => {
            w.line(`let ${v(o.inner)} = quad * 4i + ${k}i;`);
            const element = `f32(${expr(o.load)})`;
            w.line(`${value}.${lanes[k]} = ${4 * o.quads > o.innerDim ? `select(0.0f, ${element}, ${v(o.inner)} < ${o.innerDim}i)` : element};`);
          });
        }
        if (packed) w.line(`${into} = ${packSlot(o.form, "value")};`);
      }
    });
  };
  const zero = (f: TileForm) => (f === "f32" ? "vec4f(0.0f)" : "vec2u(0u)");

  /**
   * Loads a tile of `rows` x paddedD (or paddedDv) elements into workgroup memory, a slot of 4 along the inner dim
   * at a time. Rows past the end and inner indices past the dim are 0; the tensor is read only in range. A packed
   * tile copies the tensor's words as they are where its rows are contiguous, and packs the (exact) values otherwise.
   * Where the invocations share the slots evenly, and few to an invocation, each reads all of its slots into
   * registers before it stores any (the reads then wait for memory once, not once a slot): this emits the reads
   * and returns what emits the stores.
   */
  const stageTile = (o: TileLoad, name: string): (() => void) => {
    const slots = o.rows * o.quads;
    const wordsPerSlot = o.form === "f32" ? 4 : 2;
    if (slots % T !== 0 || (slots / T) * wordsPerSlot > 16) {
      w.block(`for (var x = i32(lane); x < ${slots}; x += ${T})`, () => {
        w.line(`var slot = ${zero(o.form)};`);
        fetchSlot(o, "slot");
        w.line(`${o.target("tile_row", "quad")} = slot;`);
      });
      return () => {};
    }
    const staged = range(slots / T).map((u) => `${name}_slot${u}`);
    staged.forEach((slot, u) => {
      w.line(`var ${slot} = ${zero(o.form)};`);
      w.line("{");
      w.indented(() => {
        w.line(`let x = i32(lane) + ${u * T}i;`);
        fetchSlot(o, slot);
      });
      w.line("}");
    });
    return () => staged.forEach((slot, u) => w.line(`{ let x = i32(lane) + ${u * T}i; ${o.target(`(x / ${o.quads})`, `(x % ${o.quads})`)} = ${slot}; }`));
  };
  const loadTile = (o: TileLoad, name: string) => stageTile(o, name)();

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
        const prefix = hoistedPrefix(load, cx.dims(load.tensor), tileVar, inner, tensorUses);
        if (prefix === undefined) return undefined;
        w.line(`let ${name} = ${prefix};  // the part of \`${commentText(load.tensor)}\`'s offset fixed for the row`);
        return name;
      };
      const qBase = hoist("q_row_base", c.q, c.queryVar, c.headVar);
      const kBase = hoist("k_row_base", c.k, c.keyVar, c.headVar);
      const vBase = hoist("v_row_base", c.v, c.keyVar, c.valueVar);

      w.line("// The query tile, once a row tuple.");
      loadTile({
        load: c.q, outer: c.queryVar, inner: c.headVar, innerDim: D, quads: DP4, rows: BR, form: forms.q, first: "r_i0", count: "query_count",
        hoisted: qBase, target: (r, q) => `${entry}_q[${r} * ${DP4} + ${q}]`,
      }, "q");
      w.line("// Running statistics of this invocation's 4 queries (m in log2 units), and their output accumulators.");
      for (const r of range(4)) {
        for (const st of program.state) w.line(`var ${rowRegister(r)(st.reg)} = ${wgslFloat(st.init)};`);
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
        const tileClass = `select(select(${PARTIAL}i, ${FULL}i, ${bool(stage.tiles.full)} && r_j0 + ${BC}i <= key_count), ${EMPTY}i, ${bool(stage.tiles.empty)})`;
        // Bounds, sizes and scalars are uniform already; a class read from a tile table needs a workgroup's uniform load.
        if (uniformByConstruction(stage.tiles.full) && uniformByConstruction(stage.tiles.empty)) w.line(`let tile_class = ${tileClass};`);
        else uniform("tile_class", tileClass);
        if (c.maskedIsZero) w.line(`if (tile_class == ${EMPTY}i) { continue; }`);
        const storeK = stageTile({
          load: c.k, outer: c.keyVar, inner: c.headVar, innerDim: D, quads: DP4, rows: BC, form: forms.k, first: "r_j0", count: "key_count",
          hoisted: kBase, target: (r, q) => `${kArray}[${r} * ${KS} + ${q}]`,
        }, "k");
        const stageV = () => stageTile({
          load: c.v, outer: c.keyVar, inner: c.valueVar, innerDim: DV, quads: DVP4, rows: BC, form: forms.v, first: "r_j0", count: "key_count",
          hoisted: vBase, target: (r, q) => `${vArray}[${r} * ${DVP4} + ${q}]`,
        }, "v");
        // K and V read together, then stored.
        const storeV = shareKV ? () => {} : stageV();
        storeK();
        storeV();
        w.line("workgroupBarrier();");

        w.line("// Scores of this invocation's 4 queries (s0..s3) and keys (components), from the tiles.");
        w.line(range(4).map((r) => `var s${r} = vec4f(0.0f);`).join(" "));
        w.block(`for (var d4 = 0i; d4 < ${DP4}i; d4++)`, () => {
          const read = (name: string, form: TileForm, at: string) => {
            if (form === "f32") w.line(`let ${name} = ${at};`);
            else w.line(`let ${name}_slot = ${at}; let ${name} = ${unpackSlot(form, `${name}_slot`)};`);
          };
          for (const r of range(4)) read(`q${r}`, forms.q, `${entry}_q[(ty * 4i + ${r}i) * ${DP4} + d4]`);
          for (const k of range(4)) read(`k${k}`, forms.k, `${kArray}[(tx + ${k * NX}i) * ${KS} + d4]`);
          for (const l of lanes) w.line(`let k_${l} = vec4f(k0.${l}, k1.${l}, k2.${l}, k3.${l});`);
          for (const r of range(4)) w.line(lanes.map((l) => `s${r} = fma(vec4f(q${r}.${l}), k_${l}, s${r});`).join(" "));
        });

        const scoreElement = (r: number, k: number, guarded: boolean) => {
          w.block("", () => {
            const at = `s${r}.${lanes[k]}`;
            if (guarded) w.line(`let key_raw = r_j0 + tx + ${k * NX}i;`);
            const needI = uses(scoreMod, c.queryVar) || (guarded && uses(program.mask, c.queryVar)) || uses(normalise, c.queryVar);
            const needJ = uses(scoreMod, c.keyVar) || (guarded && uses(program.mask, c.keyVar)) || uses(normalise, c.keyVar);
            if (needI) w.line(`let ${iv} = min(first_query + ${r}i, query_count - 1i);`);
            if (needJ) w.line(`let ${jv} = ${guarded ? "min(key_raw, key_count - 1i)" : `r_j0 + tx + ${k * NX}i`};`);
            w.line(`let r_score = ${at};`);
            const keep = guarded ? `key_raw < key_count${program.mask ? ` && ${bool(program.mask)}` : ""}` : undefined;
            if (normalise === undefined) {
              const scaled = expr(scoreMod);
              w.line(`${at} = ${keep ? `select(${minusInfinity}, ${scaled}, ${keep})` : scaled};`);
            } else {
              // An element-wise normaliser sees -inf where the mask says so; keys past the end contribute nothing.
              const masked = program.mask && guarded ? `select(${minusInfinity}, ${expr(scoreMod)}, ${bool(program.mask)})` : expr(scoreMod);
              w.line(`let r_x = ${masked};`);
              const p = expr(normalise);
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

        // The program's row ops (online-softmax.ts), each invocation for its 4 queries.
        const declared = range(4).map(() => new Set<Register>(program.state.map((st) => st.reg)));
        for (const op of program.tile) {
          if (op.op === "tileMax") {
            w.line("// The tile's row maxima over the workgroup: each invocation's 4 keys, then across a query's invocations.");
            w.line(`${entry}_rows[ty * ${NX}i + tx] = vec4f(${range(4).map((r) => `max(max(s${r}.x, s${r}.y), max(s${r}.z, s${r}.w))`).join(", ")});`);
            w.line("workgroupBarrier();");
            w.line(`var tile_max = ${op.init === undefined ? `vec4f(${minusInfinity})` : `vec4f(${range(4).map((r) => rowRegister(r)(op.init!)).join(", ")})`};`);
            w.block(`for (var t = 0i; t < ${NX}i; t++)`, () => w.line(`tile_max = max(tile_max, ${entry}_rows[ty * ${NX}i + t]);`));
            for (const r of range(4)) {
              w.line(`var ${rowRegister(r)(op.into)} = tile_max.${lanes[r]};`);
              declared[r].add(op.into);
            }
          } else if (op.op === "assign") {
            for (const r of range(4)) assigns(op.steps, rowRegister(r), declared[r]);
          } else if (op.op === "rescale") {
            for (const r of range(4)) w.line(range(G).map((g) => `o${r}_${g} = o${r}_${g} * ${rowRegister(r)(op.by)};`).join(" "));
          } else if (op.op === "exponentiate") {
            for (const r of range(4)) {
              const reg = rowRegister(r);
              w.line(`s${r} = ${printScalar(op.value, spelling(reg))};`);
              w.line(`${reg(op.sum)} = ${reg(op.sum)} + (s${r}.x + s${r}.y + s${r}.z + s${r}.w);`);
            }
          }
        }
        if (shareKV) {
          if (!softmax) w.line("workgroupBarrier();");
          w.line("// Every invocation is done with K: V takes its place.");
          stageV()();
        }
        w.line("// P to workgroup memory, transposed, for P V.");
        for (const k of range(4)) {
          const p = `vec4f(${range(4).map((r) => `s${r}.${lanes[k]}`).join(", ")})`;
          w.line(`${entry}_p[(tx + ${k * NX}i) * ${PS} + ty] = ${forms.p === "f32" ? p : `vec2u(pack2x16float(vec2f(s0.${lanes[k]}, s1.${lanes[k]})), pack2x16float(vec2f(s2.${lanes[k]}, s3.${lanes[k]})))`};`);
        }
        w.line("workgroupBarrier();");
        w.block(`for (var key = 0i; key < ${BC}i; key++)`, () => {
          if (forms.p === "f32") w.line(`let p = ${entry}_p[key * ${PS} + ty];`);
          else w.line(`let p_slot = ${entry}_p[key * ${PS} + ty]; let p = ${unpackSlot(forms.p, "p_slot")};`);
          for (const g of range(G)) {
            const at = `${vArray}[key * ${DVP4} + ${g * NX}i + tx]`;
            if (forms.v === "f32") w.line(`let v${g} = ${at};`);
            else w.line(`let v${g}_slot = ${at}; let v${g} = ${unpackSlot(forms.v, `v${g}_slot`)};`);
          }
          for (const r of range(4)) w.line(range(G).map((g) => `o${r}_${g} = fma(vec4f(p.${lanes[r]}), v${g}, o${r}_${g});`).join(" "));
        });
        w.line("workgroupBarrier();");
      });

      for (const op of program.finish) {
        if (op.op !== "rowSum") continue;
        w.line("// Row sums over the workgroup: each invocation summed its own keys.");
        w.line(`${entry}_rows[ty * ${NX}i + tx] = vec4f(${range(4).map((r) => rowRegister(r)(op.reg)).join(", ")});`);
        w.line("workgroupBarrier();");
        w.line("var sums = vec4f(0.0f);");
        w.block(`for (var t = 0i; t < ${NX}i; t++)`, () => w.line(`sums = sums + ${entry}_rows[ty * ${NX}i + t];`));
        for (const r of range(4)) w.line(`${rowRegister(r)(op.reg)} = sums.${lanes[r]};`);
      }
      for (const r of range(4)) {
        w.block(`if (first_query + ${r}i < query_count)`, () => {
          w.line(`let ${iv} = first_query + ${r}i;`);
          const reg = rowRegister(r);
          const declared = new Set<Register>(program.state.map((st) => st.reg));
          for (const op of program.finish) {
            if (op.op === "assign") assigns(op.steps, reg, declared);
            else if (op.op === "storeStatistic") {
              const x = op.store;
              tensorUses.stores.add(x.output.name);
              w.line(`if (tx == 0i) { st_${tensorIdentifier(x.output.name)}(${[...x.outputVars.map(v), store(expr(x.epilogue), x.epilogue, x.output.dtype === "i32")].join(", ")}); }`);
            } else if (op.op === "storeOutput") {
              const scale = op.scale && reg(op.scale);
              for (const g of range(G)) {
                for (const k of range(4)) {
                  w.block("", () => {
                    w.line(`let ${ev} = ${g * NX * 4 + k}i + tx * 4i;`);
                    const body = () => {
                      w.line(`let r_acc = o${r}_${g}.${lanes[k]}${scale === undefined ? "" : ` * ${scale}`};`);
                      tensorUses.stores.add(c.output.name);
                      w.line(`st_${tensorIdentifier(c.output.name)}(${[...c.outputVars.map(v), store(expr(c.epilogue), c.epilogue, c.output.dtype === "i32")].join(", ")});`);
                    };
                    if (paddedDv > DV) w.block(`if (${ev} < ${DV}i)`, body);
                    else body();
                  });
                }
              }
            }
          }
        });
      }
      w.line("workgroupBarrier();");
    });
  });
  return { code: `${decls.toString()}\n${w.toString()}`, uses: tensorUses };
}

/** Whether every invocation computes the same value without help: no tensor reads (tile tables), no loops. */
const uniformByConstruction = (e: Expr): boolean => !some(e, (x) => x.kind === "load" || x.kind === "reduce");

const store = (code: string, e: Expr, isInt: boolean): string => storedValue(code, e.type, isInt);

/**
 * The load's offset without the inner index, as WGSL, where the inner index is the last one and appears nowhere
 * else (so a row of the tile is contiguous): the element at inner index x is at offset + x.
 */
function fastOffset(load: LoadExpr, dims: readonly Extent[], outer: IndexVar, inner: IndexVar, innerDim: number, hoisted: string | undefined, uses: TensorUses): string | undefined {
  const split = splitIndices(load, dims, outer, inner, innerDim, uses);
  if (split === undefined) return undefined;
  let acc = hoisted ?? "";
  for (let k = split.firstVarying; k < split.indices.length - 1; k++) {
    const index = split.index(k);
    acc = acc === "" ? index : `(${acc}) * ${split.dim(k)} + ${index}`;
  }
  return `(${acc || "0i"}) * ${innerDim}i`;
}

/** The flat offset of the leading indices that do not depend on the tile's variable, computed once a row tuple. */
function hoistedPrefix(load: LoadExpr, dims: readonly Extent[], outer: IndexVar, inner: IndexVar, uses: TensorUses): string | undefined {
  const innerDim = (inner.extent as { value: number }).value;
  const split = splitIndices(load, dims, outer, inner, innerDim, uses);
  if (split === undefined || split.firstVarying === 0) return undefined;
  let acc = "";
  for (let k = 0; k < split.firstVarying; k++) acc = acc === "" ? split.index(k) : `(${acc}) * ${split.dim(k)} + ${split.index(k)}`;
  return acc;
}

function splitIndices(load: LoadExpr, dims: readonly Extent[], outer: IndexVar, inner: IndexVar, innerDim: number, uses: TensorUses) {
  const n = load.indices.length;
  const last = load.indices[n - 1];
  if (innerDim % 4 !== 0 || last?.kind !== "var" || last.name !== inner.name) return undefined;
  if (load.indices.slice(0, n - 1).some((x) => freeVars(x).has(inner.name))) return undefined;
  const varying = load.indices.findIndex((x) => freeVars(x).has(outer.name));
  // Indices are printed where no statement can go: they must print inline (no reduction inside an index).
  if (!load.indices.every(printsInline)) return undefined;
  const scratch = new CodeWriter();
  const read = noTensorUses();
  const printed = load.indices.map((x) => printExpr(x, recordingDialect(read), scratch));
  for (const t of read.loads) uses.loads.add(t);
  return {
    indices: load.indices,
    firstVarying: varying < 0 ? n - 1 : varying,
    index: (k: number) => (load.clamped[k] ? `attnc_index(${printed[k]}, ${extentCode(dims[k])})` : printed[k]),
    dim: (k: number) => extentCode(dims[k]),
  };
}
