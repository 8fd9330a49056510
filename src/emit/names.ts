// Emit stage: how user text reaches generated source. Names become identifier text in a namespace of their own
// (each target prefixes it by kind; see wgsl/dialect.ts, cuda/dialect.ts, cuda/index.ts, ts/index.ts), and every
// other piece of user text (file names, names in comments) goes through commentText.

/** A name as the language writes it: a letter, then letters, digits and single underscores between them. */
const plainName = /^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$/;

/**
 * A user name (letters, digits, `_`; fresh names of the compiler also contain `'`) as identifier text: injective,
 * never containing `__`, never beginning or ending with `_` (so `prefix_` + it + `_suffix` is a valid identifier
 * in C++, WGSL and TypeScript, and no two names meet). A plain name is itself; any other (`_0`, `a__b`, `j'3`)
 * is `0` followed by its characters with `_` written `_u` and `'` written `_p`, so it begins with a digit, which
 * no plain name does.
 */
export function nameText(name: string): string {
  if (plainName.test(name)) return name;
  let text = "0";
  for (const ch of name) text += ch === "_" ? "_u" : ch === "'" ? "_p" : /^[A-Za-z0-9]$/.test(ch) ? ch : `_x${ch.codePointAt(0)!.toString(16).padStart(6, "0")}`;
  return text;
}

/**
 * User text (a file name, a name) as it may appear inside a line or block comment of any target: printable ASCII
 * only (anything else, line breaks and U+2028 included, as `U+XXXX`), no backslash (which would splice a C++ line
 * comment into the next line) and no `*` next to `/` (which would open or close a block comment).
 */
export function commentText(text: string): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += code < 0x20 || code > 0x7e || ch === "\\" ? `U+${code.toString(16).toUpperCase().padStart(4, "0")}` : ch;
  }
  return out.replace(/\*\//g, "* /").replace(/\/\*/g, "/ *");
}
