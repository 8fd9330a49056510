// Syntax stage: the lexer's tokens, one constant each.
import { createToken, Lexer } from "chevrotain";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /#[^\n\r]*/, group: Lexer.SKIPPED });
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });
export const Kernel = createToken({ name: "Kernel", pattern: /kernel/, longer_alt: Identifier, label: "`kernel`" });
export const Const = createToken({ name: "Const", pattern: /const/, longer_alt: Identifier, label: "`const`" });
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/,
  label: "a number",
});
export const Arrow = createToken({ name: "Arrow", pattern: /->/, label: "`->`" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "`(`" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "`)`" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "`[`" });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/, label: "`]`" });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/, label: "`{`" });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/, label: "`}`" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "`,`" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "`:`" });
export const Question = createToken({ name: "Question", pattern: /\?/, label: "`?`" });
export const EqEq = createToken({ name: "EqEq", pattern: /==/, label: "`==`" });
export const NotEq = createToken({ name: "NotEq", pattern: /!=/, label: "`!=`" });
export const LtEq = createToken({ name: "LtEq", pattern: /<=/, label: "`<=`" });
export const GtEq = createToken({ name: "GtEq", pattern: /\>=/, label: "`>=`" });
export const Lt = createToken({ name: "Lt", pattern: /</, label: "`<`" });
export const Gt = createToken({ name: "Gt", pattern: />/, label: "`>`" });
export const AndAnd = createToken({ name: "AndAnd", pattern: /&&/, label: "`&&`" });
export const OrOr = createToken({ name: "OrOr", pattern: /\|\|/, label: "`||`" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "`=`" });
export const Bang = createToken({ name: "Bang", pattern: /!/, label: "`!`" });
export const Plus = createToken({ name: "Plus", pattern: /\+/, label: "`+`" });
export const Minus = createToken({ name: "Minus", pattern: /-/, label: "`-`" });
export const Star = createToken({ name: "Star", pattern: /\*/, label: "`*`" });
export const Slash = createToken({ name: "Slash", pattern: /\//, label: "`/`" });
export const Percent = createToken({ name: "Percent", pattern: /%/, label: "`%`" });

// Order matters: longer operators before their prefixes, keywords before identifiers.
export const allTokens = [
  WhiteSpace, Comment, Kernel, Const, Identifier, NumberLiteral, Arrow,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Colon, Question,
  EqEq, NotEq, LtEq, GtEq, Lt, Gt, AndAnd, OrOr, Equals, Bang, Plus, Minus, Star, Slash, Percent,
];

export const attnLexer = new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: false });
