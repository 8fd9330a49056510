// Emit stage (CUDA): the fused attention kernel without tensor cores (any storage dtype): key and value tiles in shared
// memory as f32, the same online softmax as the mma kernel. Head dims up to 128: one thread a query row, the query
// tile in shared memory too. Wider: `lanes` neighbouring threads of a warp share a query row, each holding every
// lanes-th element of its q row and of its output accumulator in registers, and the lanes' partial dot products are
// summed across them with shuffles.
import type { TileProgram } from "../../tile/types.js";
import type { Dialect } from "../expr.js";
import { identifier, printAssigns } from "../expr.js";
import { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import type { SimtSchedule } from "../../schedule/types.js";
import { staticSharedBytes } from "../../schedule/choose-cuda.js";
import { cudaScalars, printOutputStore, printPrologue, printQueryTileLoop, printRowFinish, printScoreElement, scoreCode } from "./fused-common.js";
import type { Register } from "../../tile/types.js";
import { printScalar } from "../../tile/print.js";
import type { FusedKernel } from "./fused-mma.js";

export function printFusedSimt(name: string, program: TileProgram, d: Dialect, slots: ReadonlyMap<string, TensorSlot>, shape: SimtSchedule): FusedKernel {
  const stage = program.stage;
  const c = stage.chain;
  const D = (c.headVar.extent as { value: number }).value;
  const DV = (c.valueVar.extent as { value: number }).value;
  const { blockQ: BR, blockK: BC, lanes: L, threads, smemBytes } = shape;
  const dynamic = smemBytes > staticSharedBytes;
  const ctype = (t: string) => slots.get(t)!.ctype;
  const softmax = program.state.length > 0;
  const code = scoreCode(program);
  const names: Partial<Record<Register, string>> = { rowMax: "m_run", rowSum: "l_run", tileMax: "mx", score: "s[jj]" };
  const reg = (r: Register) => names[r] ?? r;
  const acc = L === 1 ? "acc[e]" : "acc[u]";
  const valueLoop = L === 1 ? "for (int e = 0; e < DV; ++e)" : "for (int u = 0; u < EV; ++u)";
  const iName = identifier(c.queryVar.name);
  const w = new CodeWriter();
  w.line(`__global__ void __launch_bounds__(${threads}) ${name}(const Params p, const int vec, const int group) {`);
  w.indented(() => {
    w.line(`typedef ${ctype(c.q.tensor)} T;`);
    w.line(`typedef ${ctype(c.k.tensor)} TK;`);
    w.line(`typedef ${ctype(c.v.tensor)} TV;`);
    if (L === 1) w.line(`constexpr int D = ${D}, DV = ${DV}, BR = ${BR}, BC = ${BC};`);
    else {
      // LANES threads a row: lane `part` of a row holds its elements part, part + LANES, ... (EQ of q, EV of o).
      w.line(`constexpr int D = ${D}, DV = ${DV}, BR = ${BR}, BC = ${BC}, LANES = ${L}, THREADS = ${threads};`);
      w.line("constexpr int EQ = (D + LANES - 1) / LANES, EV = (DV + LANES - 1) / LANES;");
    }
    w.line("constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;");
    w.line("(void)LOG2E; (void)LN2; (void)vec;");
    w.line("const float NEG_INF = __int_as_float(0xff800000);");
    if (L === 1) w.line("__shared__ float sQ[BR][D + 1];");
    if (dynamic) {
      // Past 48 KiB: dynamic shared memory, which the launch opts into (cudaFuncSetAttribute).
      w.line("extern __shared__ __align__(16) unsigned char smem_raw[];");
      w.line("float (*sK)[D + 1] = reinterpret_cast<float (*)[D + 1]>(smem_raw);");
      w.line("float (*sV)[DV + 1] = reinterpret_cast<float (*)[DV + 1]>(smem_raw + sizeof(float) * BC * (D + 1));");
    } else {
      w.line("__shared__ float sK[BC][D + 1];");
      w.line("__shared__ float sV[BC][DV + 1];");
    }
    const stride = L === 1 ? "BR" : "THREADS";
    printQueryTileLoop(stage, d, w, () => {
      printPrologue(stage, d, w, slots, { q: "T", k: "TK", v: "TV" });
      w.line("(void)first;");
      if (L === 1) {
        w.line("for (int x = threadIdx.x; x < BR * D; x += BR) { const int r = x / D, dd = x % D; sQ[r][dd] = i0 + r < N ? attnc_to_float(gQ[(long long)(i0 + r) * q_rs + dd * q_cs]) : 0.0f; }");
        w.line("const int i_raw = i0 + threadIdx.x;");
      } else {
        // The lanes of a row are neighbours in one warp (LANES divides 32), so a row's shuffles stay in its warp.
        w.line("const int part = threadIdx.x % LANES;");
        w.line("const int i_raw = i0 + threadIdx.x / LANES;");
        w.line("float qreg[EQ];");
        w.line("#pragma unroll");
        w.line("for (int u = 0; u < EQ; ++u) { const int dd = part + u * LANES; qreg[u] = i_raw < N && dd < D ? attnc_to_float(gQ[(long long)i_raw * q_rs + dd * q_cs]) : 0.0f; }");
      }
      w.line(`const int ${iName} = min(i_raw, N - 1);`);
      w.line(L === 1 ? "float acc[DV];" : "float acc[EV];");
      w.line("#pragma unroll");
      w.line(L === 1 ? "for (int e = 0; e < DV; ++e) acc[e] = 0.0f;" : "for (int u = 0; u < EV; ++u) acc[u] = 0.0f;");
      // The running max and sum of a softmax (an element-wise normaliser has none).
      if (softmax) w.line(`float ${program.state.map((s) => `${reg(s.reg)} = ${cudaScalars(d, w, reg).float(s.init)}`).join(", ")};`);
      w.block("for (int kt = next_tile(first); kt >= 0; kt = next_tile(kt + 1))", () => {
        w.line("const int j0 = kt * BC;");
        w.line("__syncthreads();");
        w.line(`for (int x = threadIdx.x; x < BC * D; x += ${stride}) { const int r = x / D, dd = x % D; sK[r][dd] = j0 + r < M ? attnc_to_float(gK[(long long)(j0 + r) * k_rs + dd * k_cs]) : 0.0f; }`);
        w.line(`for (int x = threadIdx.x; x < BC * DV; x += ${stride}) { const int r = x / DV, ee = x % DV; sV[r][ee] = j0 + r < M ? attnc_to_float(gV[(long long)(j0 + r) * v_rs + ee * v_cs]) : 0.0f; }`);
        w.line("__syncthreads();");
        w.line("const bool guarded = !tile_full(kt) || j0 + BC > M;");
        w.line("float s[BC];");
        w.line("#pragma unroll");
        w.block("for (int jj = 0; jj < BC; ++jj)", () => {
          w.line("const int j_raw = j0 + jj;");
          w.line(`const int ${identifier(c.keyVar.name)} = min(j_raw, M - 1);`);
          w.line("float dot = 0.0f;");
          if (L === 1) {
            w.line("#pragma unroll 8");
            w.line("for (int dd = 0; dd < D; ++dd) dot = fmaf(sQ[threadIdx.x][dd], sK[jj][dd], dot);");
          } else {
            w.line("#pragma unroll");
            w.line(`for (int u = 0; u < EQ; ++u) ${D % L === 0 ? "" : "if (part + u * LANES < D) "}dot = fmaf(qreg[u], sK[jj][part + u * LANES], dot);`);
            // A butterfly: every lane of the row ends with the same sum (a + b == b + a in IEEE arithmetic), so the
            // lanes agree on each score, the running max and sum, and the row's tile classes.
            w.line("#pragma unroll");
            w.line("for (int off = LANES / 2; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);");
          }
          w.line("s[jj] = dot;");
          printScoreElement(code, d, w, "s[jj]");
        });
        // The program's row formulas (online-softmax.ts), one thread (or LANES of them, which agree) a row.
        const declared = new Set<Register>(["rowMax", "rowSum"]);
        const spelling = cudaScalars(d, w, reg);
        for (const op of program.tile) {
          if (op.op === "tileMax") {
            w.line(`float ${reg(op.into)} = ${op.init === undefined ? "NEG_INF" : reg(op.init)};`);
            declared.add(op.into);
            w.line("#pragma unroll");
            w.line(`for (int jj = 0; jj < BC; ++jj) ${reg(op.into)} = fmaxf(${reg(op.into)}, s[jj]);`);
          } else if (op.op === "assign") printAssigns(w, op.steps, spelling, declared, "float");
          else if (op.op === "rescale") {
            w.line("#pragma unroll");
            w.line(`${valueLoop} ${acc} *= ${reg(op.by)};`);
          } else if (op.op === "exponentiate") {
            w.line("#pragma unroll");
            w.line(`for (int jj = 0; jj < BC; ++jj) { s[jj] = ${printScalar(op.value, spelling)}; ${reg(op.sum)} += s[jj]; }`);
          }
        }
        // Wide rows unroll every key, so that s stays in registers (BC is 8 or 16 there).
        w.line(L === 1 ? "#pragma unroll 4" : "#pragma unroll");
        w.block("for (int jj = 0; jj < BC; ++jj)", () => {
          w.line("#pragma unroll");
          w.line(L === 1
            ? "for (int e = 0; e < DV; ++e) acc[e] = fmaf(s[jj], sV[jj][e], acc[e]);"
            : `for (int u = 0; u < EV; ++u) ${DV % L === 0 ? "" : "if (part + u * LANES < DV) "}acc[u] = fmaf(s[jj], sV[jj][part + u * LANES], acc[u]);`);
        });
      });
      w.block("if (i_raw < N)", () => {
        // One lane of a row writes its statistics; each writes its own output elements.
        printRowFinish(program, d, w, slots, reg, L === 1 ? "true" : "part == 0", (scale) => {
          const e = identifier(c.valueVar.name);
          const scaled = (x: string) => `const float r_acc = ${x}${scale === undefined ? "" : ` * ${scale}`};`;
          w.line("#pragma unroll");
          if (L === 1) {
            w.block(`for (int ${e} = 0; ${e} < DV; ++${e})`, () => {
              w.line(scaled(`acc[${e}]`));
              printOutputStore(stage, d, w, slots);
            });
          } else {
            w.block("for (int u = 0; u < EV; ++u)", () => {
              w.line(`const int ${e} = part + u * LANES;`);
              if (DV % L !== 0) w.line(`if (${e} >= DV) continue;`);
              w.line(scaled("acc[u]"));
              printOutputStore(stage, d, w, slots);
            });
          }
        });
      });
      w.line("__syncthreads();");
    });
  });
  w.line("}");
  return { name, code: w.toString(), threads, smemBytes: dynamic ? smemBytes : 0, blockQ: BR };
}
