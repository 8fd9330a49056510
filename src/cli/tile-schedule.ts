// CLI: `--tile-schedule`, a pinned tile schedule as JSON (`{"cuda":{"path":"mma","warps":8},"wgsl":{"blockQ":32}}`)
// or as TARGET.FIELD=VALUE pairs (`cuda.path=mma,cuda.warps=8,wgsl.blockQ=32`); compile() checks the fields.
import type { TileScheduleOverride } from "../schedule/types.js";

const targets = ["cuda", "wgsl"] as const;
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The override, or a usage message. */
export function parseTileSchedule(text: string): { override: TileScheduleOverride } | { usage: string } {
  const usage = (why: string) => ({ usage: `--tile-schedule takes JSON such as '{"cuda":{"path":"mma","warps":8},"wgsl":{"blockQ":32}}' or cuda.FIELD=VALUE,wgsl.FIELD=VALUE pairs: ${why}` });
  let parsed: unknown;
  if (text.trim().startsWith("{")) {
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return usage(`not JSON (${(e as Error).message})`);
    }
  } else {
    const out: Record<string, Record<string, unknown>> = {};
    for (const pair of text.split(",").filter((x) => x.trim() !== "")) {
      const m = /^\s*([A-Za-z]+)\.([A-Za-z0-9]+)\s*=\s*(.*?)\s*$/.exec(pair);
      if (m === null) return usage(`\`${pair}\` is not TARGET.FIELD=VALUE`);
      const [, target, field, raw] = m;
      const value = raw === "true" ? true : raw === "false" ? false : /^-?\d+$/.test(raw) ? Number(raw) : raw;
      out[target] = { ...(out[target] ?? {}), [field]: value };
    }
    parsed = out;
  }
  if (!isRecord(parsed)) return usage("not an object");
  for (const [target, fields] of Object.entries(parsed)) {
    if (!targets.includes(target as never)) return usage(`unknown target \`${target}\` (the targets are cuda and wgsl)`);
    if (!isRecord(fields)) return usage(`\`${target}\` is not an object of fields`);
  }
  return { override: parsed as TileScheduleOverride };
}
