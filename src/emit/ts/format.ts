// Emit stage (TypeScript): prettier, called synchronously. prettier 3 only formats asynchronously and compile() is
// synchronous, so a worker thread runs prettier while this thread sleeps on a shared flag (as @prettier/sync does).
import { createRequire } from "node:module";
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";

// CommonJS run by the worker: one reply per request, through the request's own port, then the flag is raised.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
let prettier, loadError;
try { prettier = require(workerData.prettierPath); } catch (e) { loadError = e; }
parentPort.on("message", ({ text, port, flag }) => {
  const formatted = loadError ? Promise.reject(loadError) : prettier.format(text, { parser: "typescript" });
  formatted
    .then((text) => ({ text }), (e) => ({ error: String((e && e.stack) || e) }))
    .then((reply) => {
      port.postMessage(reply);
      port.close();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
});
`;

const timeoutMs = 60_000;
let worker: Worker | undefined;

/** `text` as prettier formats TypeScript with its default options (no config files are read). */
export function formatTypeScript(text: string): string {
  // Started on first use and unref'd: it never keeps the process alive, and it is cheaper than a start per call.
  worker ??= startWorker();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  try {
    worker.postMessage({ text, port: port2, flag }, [port2]);
    if (Atomics.wait(flag, 0, 0, timeoutMs) === "timed-out") throw new Error(`prettier did not answer within ${timeoutMs / 1000} s`);
    const reply = receiveMessageOnPort(port1)?.message as { text?: string; error?: string } | undefined;
    if (reply?.text === undefined) throw new Error(`prettier failed on the generated TypeScript: ${reply?.error ?? "no reply"}`);
    return reply.text;
  } finally {
    port1.close();
  }
}

function startWorker(): Worker {
  const prettierPath = createRequire(import.meta.url).resolve("prettier");
  const started = new Worker(workerSource, { eval: true, workerData: { prettierPath } });
  started.unref();
  // A worker that died (it should not) is replaced on the next call rather than waited on.
  started.on("error", () => undefined).on("exit", () => {
    if (worker === started) worker = undefined;
  });
  return started;
}
