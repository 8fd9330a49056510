// Emit stage (CUDA): the fused attention kernel without tensor cores (any storage dtype, any head dims up to 256):
// one thread a query row, key and value tiles in shared memory as f32, the same online softmax as the mma kernel.
import type { FusedStage } from "../../plan/plan.js";
import type { Dialect } from "../expr.js";
import { identifier } from "../expr.js";
import { CodeWriter } from "../writer.js";
import type { TensorSlot } from "./common.js";
import { printOutputStore, printPrologue, printQueryTileLoop, printRowScale, printScoreElement } from "./fused-common.js";
import type { FusedKernel } from "./fused-mma.js";

export function printFusedSimt(name: string, stage: FusedStage, d: Dialect, slots: ReadonlyMap<string, TensorSlot>): FusedKernel {
  const c = stage.chain;
  const D = (c.headVar.extent as { value: number }).value;
  const DV = (c.valueVar.extent as { value: number }).value;
  // Static shared memory stays under 48 KiB: (BR + BC) x (D + 1) + BC x (DV + 1) floats.
  const wide = D > 64 || DV > 64;
  const BR = wide ? 32 : 64;
  const BC = wide ? 16 : 32;
  const ctype = (t: string) => slots.get(t)!.ctype;
  const softmax = c.normalizer.kind === "softmax";
  const w = new CodeWriter();
  w.line(`__global__ void __launch_bounds__(${BR}) ${name}(const Params p, const int vec, const int group) {`);
  w.indented(() => {
    w.line(`typedef ${ctype(c.q.tensor)} T;`);
    w.line(`typedef ${ctype(c.k.tensor)} TK;`);
    w.line(`typedef ${ctype(c.v.tensor)} TV;`);
    w.line(`constexpr int D = ${D}, DV = ${DV}, BR = ${BR}, BC = ${BC};`);
    w.line("constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;");
    w.line("(void)LOG2E; (void)LN2; (void)vec;");
    w.line("const float NEG_INF = __int_as_float(0xff800000);");
    w.line("__shared__ float sQ[BR][D + 1];");
    w.line("__shared__ float sK[BC][D + 1];");
    w.line("__shared__ float sV[BC][DV + 1];");
    printQueryTileLoop(stage, d, w, () => {
      printPrologue(stage, d, w, slots, { q: "T", k: "TK", v: "TV" });
      w.line("(void)first;");
      w.line("for (int x = threadIdx.x; x < BR * D; x += BR) { const int r = x / D, dd = x % D; sQ[r][dd] = i0 + r < N ? attnc_to_float(gQ[(long long)(i0 + r) * q_rs + dd * q_cs]) : 0.0f; }");
      w.line("const int i_raw = i0 + threadIdx.x;");
      w.line(`const int ${identifier(c.queryVar.name)} = min(i_raw, N - 1);`);
      w.line("float acc[DV];");
      w.line("#pragma unroll");
      w.line("for (int e = 0; e < DV; ++e) acc[e] = 0.0f;");
      // The running max and sum of a softmax (an element-wise normaliser has none).
      if (softmax) w.line("float m_run = NEG_INF, l_run = 0.0f;");
      w.block("for (int kt = next_tile(first); kt >= 0; kt = next_tile(kt + 1))", () => {
        w.line("const int j0 = kt * BC;");
        w.line("__syncthreads();");
        w.line("for (int x = threadIdx.x; x < BC * D; x += BR) { const int r = x / D, dd = x % D; sK[r][dd] = j0 + r < M ? attnc_to_float(gK[(long long)(j0 + r) * k_rs + dd * k_cs]) : 0.0f; }");
        w.line("for (int x = threadIdx.x; x < BC * DV; x += BR) { const int r = x / DV, ee = x % DV; sV[r][ee] = j0 + r < M ? attnc_to_float(gV[(long long)(j0 + r) * v_rs + ee * v_cs]) : 0.0f; }");
        w.line("__syncthreads();");
        w.line("const bool guarded = !tile_full(kt) || j0 + BC > M;");
        w.line("float s[BC];");
        w.line("#pragma unroll");
        w.block("for (int jj = 0; jj < BC; ++jj)", () => {
          w.line("const int j_raw = j0 + jj;");
          w.line(`const int ${identifier(c.keyVar.name)} = min(j_raw, M - 1);`);
          w.line("float dot = 0.0f;");
          w.line("#pragma unroll 8");
          w.line("for (int dd = 0; dd < D; ++dd) dot = fmaf(sQ[threadIdx.x][dd], sK[jj][dd], dot);");
          w.line("s[jj] = dot;");
          printScoreElement(stage, d, w, "s[jj]");
        });
        if (softmax) {
          w.line("float mx = m_run;");
          w.line("#pragma unroll");
          w.line("for (int jj = 0; jj < BC; ++jj) mx = fmaxf(mx, s[jj]);");
          w.line("const float base = mx == NEG_INF ? 0.0f : attnc_below_inf(mx);  // kept finite (language.md 6)");
          w.line("const float alpha = attnc_exp2(m_run - base);");
          w.line("m_run = mx;");
          w.line("l_run *= alpha;");
          w.line("#pragma unroll");
          w.line("for (int e = 0; e < DV; ++e) acc[e] *= alpha;");
          w.line("#pragma unroll");
          w.line("for (int jj = 0; jj < BC; ++jj) { s[jj] = attnc_exp2(s[jj] - base); l_run += s[jj]; }");
        }
        w.line("#pragma unroll 4");
        w.block("for (int jj = 0; jj < BC; ++jj)", () => {
          w.line("#pragma unroll");
          w.line("for (int e = 0; e < DV; ++e) acc[e] = fmaf(s[jj], sV[jj][e], acc[e]);");
        });
      });
      w.block("if (i_raw < N)", () => {
        printRowScale(stage, d, w, slots, "m_run", "l_run", "true");
        w.line("#pragma unroll");
        w.block(`for (int ${identifier(c.valueVar.name)} = 0; ${identifier(c.valueVar.name)} < DV; ++${identifier(c.valueVar.name)})`, () => {
          w.line(`const float r_acc = acc[${identifier(c.valueVar.name)}] * scale;`);
          printOutputStore(stage, d, w, slots);
        });
      });
      w.line("__syncthreads();");
    });
  });
  w.line("}");
  return { name, code: w.toString(), threads: BR, smemBytes: 0, blockQ: BR };
}
