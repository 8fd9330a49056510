// Syntax stage: the chevrotain parser. Its rules read like grammar/attn.ebnf; it builds a CST.
import { CstParser, EOF, type IParserErrorMessageProvider, type TokenType, type IToken } from "chevrotain";
import * as T from "./tokens.js";

const binaryOperators = [
  T.OrOr, T.AndAnd, T.EqEq, T.NotEq, T.Lt, T.LtEq, T.Gt, T.GtEq, T.Plus, T.Minus, T.Star, T.Slash, T.Percent,
];

const describe = (token: IToken): string =>
  token.tokenType.name === "EOF" ? "the end of the file" : `\`${token.image}\``;
const unexpected = (token: IToken): string =>
  token.tokenType.name === "EOF" ? "unexpected end of the file" : `unexpected \`${token.image}\``;

const label = (type: TokenType): string => (type.LABEL ?? type.name);

const notADeclaration = (token: IToken): string => `${unexpected(token)}: expected \`kernel\` or \`const\``;

const messages: IParserErrorMessageProvider = {
  // Recovery at the top level expects the end of the file where a declaration could also start.
  buildMismatchTokenMessage: ({ expected, actual, previous, ruleName }) =>
    expected === EOF
      ? notADeclaration(actual)
      : `expected ${ruleName === "param" && previous.tokenType === T.Colon ? "a dtype (f16, bf16, f32 or i32)" : label(expected)} but found ${describe(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => notADeclaration(firstRedundant),
  buildNoViableAltMessage: ({ actual, ruleName }) => `${unexpected(actual[0])} in ${ruleWords[ruleName] ?? ruleName}`,
  buildEarlyExitMessage: ({ actual, ruleName }) => `${unexpected(actual[0])} in ${ruleWords[ruleName] ?? ruleName}`,
};

const ruleWords: Record<string, string> = {
  program: "the program",
  primary: "an expression: expected a number, a name or `(`",
  unary: "an expression: expected a number, a name or `(`",
  dim: "a dimension: expected a size name or an integer",
  topLevel: "the program: expected `kernel` or `const`",
};

export class AttnParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, errorMessageProvider: messages, maxLookahead: 3, nodeLocationTracking: "onlyOffset" });
    this.performSelfAnalysis();
  }

  program = this.RULE("program", () => {
    this.MANY(() => this.SUBRULE(this.topLevel));
  });

  topLevel = this.RULE("topLevel", () => {
    this.OR([{ ALT: () => this.SUBRULE(this.constDecl) }, { ALT: () => this.SUBRULE(this.kernelDecl) }]);
  });

  constDecl = this.RULE("constDecl", () => {
    this.CONSUME(T.Const);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.OPTION(() => this.CONSUME(T.Minus));
    this.CONSUME(T.NumberLiteral);
  });

  kernelDecl = this.RULE("kernelDecl", () => {
    this.CONSUME(T.Kernel);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList, { LABEL: "params" }));
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.CONSUME2(T.LParen);
    this.OPTION2(() => this.SUBRULE2(this.paramList, { LABEL: "outputs" }));
    this.CONSUME2(T.RParen);
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RBrace);
  });

  paramList = this.RULE("paramList", () => {
    this.SUBRULE(this.param);
    this.MANY({
      GATE: () => this.LA(2).tokenType !== T.RParen,
      DEF: () => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.param);
      },
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
  });

  param = this.RULE("param", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.CONSUME2(T.Identifier, { LABEL: "dtype" });
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.SUBRULE(this.dim);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RBracket,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.dim);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
      this.CONSUME(T.RBracket);
    });
  });

  dim = this.RULE("dim", () => {
    this.SUBRULE(this.dimFactor);
    this.MANY(() => {
      this.CONSUME(T.Star);
      this.SUBRULE2(this.dimFactor);
    });
  });

  dimFactor = this.RULE("dimFactor", () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.NumberLiteral) }]);
  });

  /** An index variable where a statement binds it, with an optional written extent: `j` or `j: T * P`. */
  binder = this.RULE("binder", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.dim);
    });
  });

  statement = this.RULE("statement", () => {
    this.CONSUME(T.Identifier, { LABEL: "target" });
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.OPTION2(() => {
        this.SUBRULE(this.binder, { LABEL: "index" });
        this.MANY({
          GATE: () => this.LA(2).tokenType !== T.RBracket,
          DEF: () => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.binder, { LABEL: "index" });
          },
        });
        this.OPTION3(() => this.CONSUME2(T.Comma));
      });
      this.CONSUME(T.RBracket);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  expression = this.RULE("expression", () => {
    // `a ? b : c ? d : e` as a loop (conds a, c and e, thens b and d), so that a long chain does not nest the parser.
    this.SUBRULE(this.binaryExpr, { LABEL: "cond" });
    this.MANY(() => {
      this.CONSUME(T.Question);
      this.SUBRULE(this.expression, { LABEL: "then" });
      this.CONSUME(T.Colon);
      this.SUBRULE2(this.binaryExpr, { LABEL: "cond" });
    });
  });

  // Declared bottom-up so that each rule's operand rule exists when it is built.
  unary: ReturnType<CstParser["RULE"]> = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([
            { ALT: () => this.CONSUME(T.Minus, { LABEL: "op" }) },
            { ALT: () => this.CONSUME(T.Plus, { LABEL: "op" }) },
            { ALT: () => this.CONSUME(T.Bang, { LABEL: "op" }) },
          ]);
          this.SUBRULE(this.unary, { LABEL: "operand" });
        },
      },
      { ALT: () => this.SUBRULE(this.primary, { LABEL: "operand" }) },
    ]);
  });

  // Every binary operator in one flat rule (build-ast.ts applies the precedences): one rule a nesting level
  // instead of six keeps the parser's stack small, so that brackets nest deep before maxNesting refuses them.
  binaryExpr = this.RULE("binaryExpr", () => {
    this.SUBRULE(this.unary, { LABEL: "operand" });
    this.MANY(() => {
      this.OR(binaryOperators.map((op) => ({ ALT: () => this.CONSUME(op, { LABEL: "op" }) })));
      this.SUBRULE2(this.unary, { LABEL: "operand" });
    });
  });

  primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(T.RParen);
        },
      },
      {
        // A name that starts the next statement (`t[i] =`) is not an operand: `x[i] +` at the end of a line is
        // incomplete, and the error is reported there instead of at the next statement's `=`.
        GATE: () => !this.atStatementHead(),
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => {
            this.OR2([
              {
                ALT: () => {
                  this.CONSUME(T.LBracket);
                  this.OPTION4(() => this.SUBRULE(this.exprList, { LABEL: "indices" }));
                  this.CONSUME(T.RBracket);
                  this.OPTION2(() => {
                    this.CONSUME2(T.LParen);
                    this.SUBRULE(this.argList, { LABEL: "args" });
                    this.CONSUME2(T.RParen);
                  });
                },
              },
              {
                ALT: () => {
                  this.CONSUME3(T.LParen);
                  this.OPTION3(() => this.SUBRULE2(this.argList, { LABEL: "args" }));
                  this.CONSUME3(T.RParen);
                },
              },
            ]);
          });
        },
      },
    ]);
  });

  private atStatementHead(): boolean {
    return startsStatement((k) => this.LA(k).tokenType);
  }

  /** The bracket of an element or a reduction; a reduction's axis may carry a written extent (`sum[j: M]`). */
  exprList = this.RULE("exprList", () => {
    this.SUBRULE(this.bracketItem, { LABEL: "item" });
    this.MANY({
      GATE: () => this.LA(2).tokenType !== T.RBracket,
      DEF: () => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.bracketItem, { LABEL: "item" });
      },
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
  });

  bracketItem = this.RULE("bracketItem", () => {
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.dim);
    });
  });

  argList = this.RULE("argList", () => {
    this.SUBRULE(this.arg);
    this.MANY({
      GATE: () => this.LA(2).tokenType !== T.RParen,
      DEF: () => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.arg);
      },
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
  });

  arg = this.RULE("arg", () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Colon && this.LA(1).tokenType === T.Identifier,
      DEF: () => {
        this.CONSUME(T.Identifier, { LABEL: "label" });
        this.CONSUME(T.Colon);
      },
    });
    this.SUBRULE(this.expression);
  });
}

/** Whether the tokens from `la(1)` on read `name =` or `name[...] =`: the start of a statement, never an operand. */
export function startsStatement(la: (k: number) => TokenType): boolean {
  if (la(1) !== T.Identifier) return false;
  if (la(2) === T.Equals) return true;
  if (la(2) !== T.LBracket) return false;
  for (let k = 3, depth = 1; ; k++) {
    const type = la(k);
    if (type === EOF) return false;
    if (type === T.LBracket) depth++;
    else if (type === T.RBracket && --depth === 0) return la(k + 1) === T.Equals;
  }
}

export const attnParser = new AttnParser();
