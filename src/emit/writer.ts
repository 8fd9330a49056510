// Emit stage: a small indented code writer, so generated code is built by lines and blocks, not concatenation.
export class CodeWriter {
  private readonly lines: string[] = [];
  private depth = 0;
  private counter = 0;

  constructor(private readonly indentUnit = "  ") {}

  line(text = ""): this {
    this.lines.push(text === "" ? "" : this.indentUnit.repeat(this.depth) + text);
    return this;
  }

  /** `head {`, the body indented, `}` (or a custom closer). */
  block(head: string, body: () => void, close = "}"): this {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    return this.line(close);
  }

  indented(body: () => void): this {
    this.depth++;
    body();
    this.depth--;
    return this;
  }

  /** A fresh temporary name, deterministic for a given sequence of calls. */
  fresh(base: string): string {
    return `${base}_${this.counter++}`;
  }

  toString(): string {
    return `${this.lines.join("\n")}\n`;
  }
}
