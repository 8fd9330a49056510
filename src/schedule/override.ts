// Schedule stage: a pinned schedule (compile's `tileSchedule`, `--tile-schedule`) merged into a stage's default
// record, and checked: a field the kernel cannot run gets a message naming it and what is allowed, never a record
// that would print a broken kernel.
import type { DType } from "../syntax/ast.js";
import type { FusedStage } from "../plan/plan.js";
import { didYouMean } from "../diagnostics/diagnostic.js";
import {
  constHeadDims, defaultCudaPath, defaultCudaRecord, maxSharedBytes, maxSharedBytesSm90, mmaRecord, mmaUnsupportedReason, simtRecord, simtRegisterBudget,
  simtShape, wgmmaRecord, wgmmaUnsupportedReason,
} from "./choose-cuda.js";
import { chainStorage, maxWgslThreads, pFormAsAsked, shapeFor, type WgslLimits } from "./choose-wgsl.js";
import type { CudaArch, CudaFusedSchedule, Storage, WgslFusedSchedule } from "./types.js";

type Fields = Readonly<Record<string, unknown>>;
type Checked<T> = { readonly record?: T; readonly errors: readonly string[] };

/** A field's allowed values: integers from a list (or a range), or booleans. */
type Rule = { readonly kind: "int"; readonly allowed?: readonly number[]; readonly min?: number } | { readonly kind: "bool" };

const isOneOf = (r: Rule, v: unknown): boolean =>
  r.kind === "bool" ? typeof v === "boolean" : typeof v === "number" && Number.isInteger(v) && (r.allowed === undefined || r.allowed.includes(v)) && (r.min === undefined || v >= r.min);
const allowedText = (r: Rule): string =>
  r.kind === "bool" ? "true or false" : r.allowed !== undefined ? `one of ${r.allowed.join(", ")}` : `an integer from ${r.min ?? 0} up`;
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/**
 * The fields a path takes (`rules`), those that follow from them (`derived`, with how, accepted where they agree),
 * and the record made from the default's fields with the given ones.
 */
type Form<T> = { readonly rules: Readonly<Record<string, Rule>>; readonly derived: Readonly<Record<string, string>>; readonly build: (fields: Fields) => T };

/** Type checks, unknown fields, and derived fields that disagree, against a form; the record where none. */
function applyForm<T extends object>(what: string, form: Form<T>, base: T, pinned: Fields, fixed: readonly string[]): Checked<T> {
  const errors: string[] = [];
  // A field given as undefined is not given.
  const given = Object.fromEntries(Object.entries(pinned).filter(([, v]) => v !== undefined));
  const known = [...Object.keys(form.rules), ...Object.keys(form.derived), ...fixed];
  for (const [key, value] of Object.entries(given)) {
    const rule = Object.hasOwn(form.rules, key) ? form.rules[key] : undefined;
    if (rule !== undefined) {
      if (!isOneOf(rule, value)) errors.push(`${what}: \`${key}\` is ${show(value)}; it takes ${allowedText(rule)}`);
    } else if (!known.includes(key)) {
      const hint = didYouMean(key, known);
      errors.push(`${what}: unknown field \`${key}\`${hint ? ` (${hint})` : ""}; the fields are ${Object.keys(form.rules).map((x) => `\`${x}\``).join(", ")}`);
    }
  }
  if (errors.length > 0) return { errors };
  const fields = Object.fromEntries(Object.keys(form.rules).map((key) => [key, Object.hasOwn(given, key) ? given[key] : (base as Record<string, unknown>)[key]]));
  const record = form.build(fields);
  for (const [key, how] of Object.entries(form.derived)) {
    const got = (record as Record<string, unknown>)[key];
    if (Object.hasOwn(given, key) && given[key] !== got) errors.push(`${what}: \`${key}\` is ${how}, ${show(got)} here, not ${show(given[key])}`);
  }
  return errors.length > 0 ? { errors } : { record, errors: [] };
}

const l2Rule: Rule = { kind: "int", min: 0 };

/**
 * A fused stage's CUDA record with the pinned fields: `path` (the default path where absent), then that path's
 * fields over the path's default record.
 */
export function overrideCuda(stage: FusedStage, dtypeOf: (tensor: string) => DType, arch: CudaArch, given: Fields): Checked<CudaFusedSchedule> {
  const where = `the CUDA tile schedule of \`${stage.chain.output.name}\``;
  const paths = ["wgmma", "mma", "simt"] as const;
  const path = given.path ?? defaultCudaPath(stage, dtypeOf, arch);
  if (!paths.includes(path as never)) return { errors: [`${where}: \`path\` is ${show(path)}; it takes one of "wgmma" (sm_90a), "mma", "simt"`] };
  const dims = constHeadDims(stage)!;
  const { d, dv } = dims;
  const cannot = path === "wgmma" ? wgmmaUnsupportedReason(stage, dtypeOf, arch) : path === "mma" ? mmaUnsupportedReason(stage, dtypeOf) : simtShape(d, dv) === undefined ? `no SIMT shape fits head dims ${d} and ${dv}` : undefined;
  if (cannot !== undefined) return { errors: [`${where}: \`path\` "${path}" cannot run this stage: ${cannot}`] };
  const base = defaultCudaRecord(stage, arch, path as CudaFusedSchedule["path"]);
  const common = { arch, output: stage.chain.output.name };
  const fixed = ["path", "target", "kind", "arch", "output"];
  for (const key of ["target", "kind", "arch", "output"]) {
    if (Object.hasOwn(given, key) && given[key] !== (base as Record<string, unknown>)[key]) return { errors: [`${where}: \`${key}\` is ${show((base as Record<string, unknown>)[key])} here and cannot be pinned (arch: --arch)`] };
  }
  const w = `${where} (${path})`;
  const checked: Checked<CudaFusedSchedule> =
    path === "wgmma"
      ? applyForm(w, {
        rules: { warpgroups: { kind: "int", allowed: [1, 2, 3] }, blockK: { kind: "int", allowed: [64, 128] }, overlap: { kind: "bool" }, producer: { kind: "bool" }, stages: { kind: "int", allowed: [2, 3, 4] }, pingpong: { kind: "bool" }, persistent: { kind: "bool" }, l2Budget: l2Rule },
        derived: { blockQ: "64 x warpgroups", threads: "128 x warpgroups, + 128 with a producer", smemBytes: "what the tiles take" },
        build: (f) => wgmmaRecord(common, dims, f as never),
      }, base, given, fixed)
      : path === "mma"
        ? applyForm(w, {
          rules: { warps: { kind: "int", allowed: [1, 2, 4, 8] }, mTiles: { kind: "int", allowed: [1, 2] }, blockK: { kind: "int", allowed: [16, 32, 64, 128] }, valueSlice: { kind: "int", min: 16 }, l2Budget: l2Rule },
          derived: { blockQ: "16 x mTiles x warps", threads: "32 x warps", smemBytes: "what the tiles take", valueSlices: "the value dim over valueSlice" },
          build: (f) => mmaRecord(common, dims, f as never),
        }, base, given, fixed)
        : applyForm(w, {
          rules: { blockQ: { kind: "int", min: 1 }, blockK: { kind: "int", allowed: [8, 16, 32, 64] }, lanes: { kind: "int", allowed: [1, 2, 4, 8, 16, 32] }, l2Budget: l2Rule },
          derived: { threads: "blockQ x lanes", smemBytes: "what the tiles take" },
          build: (f) => simtRecord(common, dims, f as never),
        }, base, given, fixed);
  if (checked.record === undefined) return checked;
  const r = checked.record;
  const errors: string[] = [];
  if (r.path === "wgmma") {
    if (!r.producer && r.stages !== 2) errors.push(`${w}: \`stages\` ${r.stages} needs \`producer\`: true (without a producer the kernel double-buffers)`);
    if (r.pingpong && !(r.producer && r.overlap && r.warpgroups === 2)) errors.push(`${w}: \`pingpong\` needs \`producer\`: true, \`overlap\`: true and \`warpgroups\`: 2`);
    if (r.persistent && !r.producer) errors.push(`${w}: \`persistent\` needs \`producer\`: true`);
    if (r.smemBytes > maxSharedBytesSm90) errors.push(`${w}: these tiles take ${r.smemBytes} bytes of shared memory, past sm_90a's ${maxSharedBytesSm90}; take a smaller \`blockK\`, \`warpgroups\` or \`stages\``);
  } else if (r.path === "mma") {
    if (dv % r.valueSlice !== 0 || r.valueSlice % 16 !== 0 || r.valueSlice > 256) errors.push(`${w}: \`valueSlice\` is ${r.valueSlice}; it takes a multiple of 16 up to 256 that divides the value dim ${dv}`);
    else if (r.smemBytes > maxSharedBytes) errors.push(`${w}: these tiles take ${r.smemBytes} bytes of shared memory, past the ${maxSharedBytes} a block may have; take a smaller \`blockK\`, \`warps\` or \`mTiles\``);
  } else {
    if (r.lanes === 1 && (d > 128 || dv > 128)) errors.push(`${w}: \`lanes\` 1 holds a whole row in registers, which only head dims up to 128 fit (here ${d} and ${dv}); take 2 or more`);
    if (r.lanes > 1 && Math.ceil(d / r.lanes) + Math.ceil(dv / r.lanes) > simtRegisterBudget) errors.push(`${w}: \`lanes\` ${r.lanes} leaves ${Math.ceil(d / r.lanes) + Math.ceil(dv / r.lanes)} elements a thread, past the ${simtRegisterBudget} that fit registers; take more lanes`);
    if (r.threads % 32 !== 0 || r.threads > 1024) errors.push(`${w}: blockQ x lanes is ${r.threads} threads; it takes a multiple of 32 up to 1024`);
    if (r.smemBytes > maxSharedBytes) errors.push(`${w}: these tiles take ${r.smemBytes} bytes of shared memory, past the ${maxSharedBytes} a block may have`);
  }
  return errors.length > 0 ? { errors } : checked;
}

/** A fused stage's WGSL record with the pinned fields over its default tile (or the largest candidate where none fits). */
export function overrideWgsl(stage: FusedStage, base: WgslFusedSchedule, limits: WgslLimits, storage: (tensor: string) => Storage, given: Fields): Checked<WgslFusedSchedule> {
  const where = `the WGSL tile schedule of \`${stage.chain.output.name}\``;
  const dims = constHeadDims(stage)!;
  const chain = chainStorage(stage, storage)!;
  // The chooser keeps packed storage packed (choose-wgsl.ts).
  const baseFields = { ...base, packed: true, packedP: base.forms.p === "f16x2" };
  const blocks: Rule = { kind: "int", allowed: [8, 16, 32, 64] };
  const checked = applyForm(where, {
    rules: { blockQ: blocks, blockK: blocks, shareKV: { kind: "bool" }, packed: { kind: "bool" }, packedP: { kind: "bool" } },
    derived: { threads: "blockQ / 4 x blockK / 4", rowGroups: "blockQ / 4", colGroups: "blockK / 4", bytes: "what the tiles take" },
    build: (f) => ({ target: "wgsl" as const, kind: "fused" as const, output: base.output, ...shapeFor(f.blockQ as number, f.blockK as number, f.shareKV as boolean, dims.d, dims.dv, chain, f.packed as boolean, f.packedP as boolean) }),
  }, baseFields, given, ["target", "kind", "output", "paddedDv", "paddedD", "vec4PerThread", "forms"]);
  if (checked.record === undefined) return checked;
  const r = checked.record;
  const errors: string[] = [];
  if (given.packedP === true && !pFormAsAsked(r, true)) errors.push(`${where}: \`packedP\` rounds P to f16, which needs V stored as halves in a tile of its own form and P a softmax`);
  if (r.threads > maxWgslThreads) errors.push(`${where}: ${r.blockQ} x ${r.blockK} tiles take ${r.threads} invocations, past the ${maxWgslThreads} every device offers`);
  if (r.bytes > limits.maxWorkgroupStorageBytes) errors.push(`${where}: ${r.blockQ} x ${r.blockK} tiles take ${r.bytes} bytes of workgroup memory, past the limit of ${limits.maxWorkgroupStorageBytes}; take smaller tiles, \`shareKV\`: true, or raise the limit`);
  return errors.length > 0 ? { errors } : checked;
}
