// Test support: compile() in a child process with a memory limit and a deadline, so that exponential time or memory
// is reported as a failure of the one input instead of killing the test process.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CompileOptions, CompileResult } from "../../src/compile.js";

export type IsolatedAttempt = { result?: CompileResult; thrown?: string; crashed?: string; ms: number };

let worker: ChildProcess | undefined;
let next = 0;

function start(memoryMb: number): ChildProcess {
  const w = fork(fileURLToPath(new URL("./compile-worker.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx", `--max-old-space-size=${memoryMb}`], serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  w.stderr?.resume();
  return w;
}

/** compile() in the child process (started once, again after it dies): its result, or what it threw, or how the process died (out of memory, past the deadline). */
export function isolatedCompile(source: string, options: CompileOptions, limits: { deadlineMs?: number; memoryMb?: number } = {}): Promise<IsolatedAttempt> {
  const deadlineMs = limits.deadlineMs ?? 20_000;
  const w = (worker ??= start(limits.memoryMb ?? 1024));
  const id = next++;
  const begun = performance.now();
  return new Promise((resolve) => {
    const done = (a: IsolatedAttempt, kill: boolean) => {
      clearTimeout(timer);
      w.off("message", onMessage);
      w.off("error", onError);
      w.off("exit", onExit);
      if (kill) {
        if (worker === w) worker = undefined;
        w.kill("SIGKILL");
      }
      resolve(a);
    };
    const onMessage = (m: { id: number; ms: number; result?: CompileResult; thrown?: string }) => {
      if (m.id === id) done({ result: m.result, thrown: m.thrown, ms: m.ms }, false);
    };
    const onError = (e: Error) => done({ crashed: `the compiler's process failed: ${e.message.slice(0, 300)}`, ms: performance.now() - begun }, true);
    const onExit = (code: number | null, signal: string | null) =>
      done({ crashed: `the compiler's process died (${code !== null ? `exit code ${code}` : signal}${code === 134 ? ", out of memory" : ""})`, ms: performance.now() - begun }, true);
    const timer = setTimeout(() => done({ crashed: `compile did not finish in ${deadlineMs} ms`, ms: performance.now() - begun }, true), deadlineMs);
    w.on("message", onMessage);
    w.on("error", onError);
    w.on("exit", onExit);
    w.send({ id, source, options });
  });
}

/** Ends the child process (tests call it when done). */
export async function stopIsolated(): Promise<void> {
  const w = worker;
  worker = undefined;
  w?.kill();
}
