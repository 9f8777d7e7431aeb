/**
 * A parameter's type and its values, by the server's rules (jupyter_mvdp/core/grid.py
 * `coerce`): the type is the annotation as written in the notebook (`int`, `float | None`,
 * `Optional[int]`, `Union[int, str]`, `Literal['gini', 'entropy']`, `list[int]`...), read
 * as a Python expression; a value fits it as `grid.coerce` says, an int parameter taking the
 * nearest int (ties to even, as Python rounds) of a range's values.
 *
 * The rules live in Python; this copy exists so the editor can answer while the user types,
 * and tests/contract/values.json and grids.json pin the two together (jest and pytest run
 * both files). No DOM, no JupyterLab.
 */

export type Parsed<T> = { value: T; error?: undefined } | { error: string };

// --- a Python expression, the little of it annotations and literals use ------------------

/** `...` in an expression (`tuple[int, ...]`). */
const ELLIPSIS = Symbol('Ellipsis');

export type Expr =
  | { t: 'const'; value: any }
  | { t: 'name'; name: string }
  | { t: 'attr'; base: Expr; name: string }
  | { t: 'sub'; base: Expr; args: Expr[] }
  | { t: 'or'; left: Expr; right: Expr }
  | { t: 'sign'; sign: '-' | '+'; operand: Expr }
  | { t: 'list' | 'tuple'; elts: Expr[] }
  | { t: 'dict'; keys: Expr[]; values: Expr[] };

const TOKEN =
  /\s*(?:(\d[\d_]*\.?[\d_]*(?:[eE][-+]?\d+)?|\.\d[\d_]*(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")|(\.\.\.|[[\](){}:,|.+-]))/y;

type Token = { kind: 'num' | 'name' | 'str' | 'op'; text: string };

function tokenize(source: string): Token[] | null {
  const tokens: Token[] = [];
  let at = 0;
  while (source.slice(at).trim() !== '') {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(source);
    if (!m) {
      return null;
    }
    at = TOKEN.lastIndex;
    const kind = m[1] ? 'num' : m[2] ? 'name' : m[3] ? 'str' : 'op';
    tokens.push({ kind, text: m[1] ?? m[2] ?? m[3] ?? m[4] });
  }
  return tokens;
}

const ESCAPES: { [c: string]: string } = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '\\': '\\',
  "'": "'",
  '"': '"'
};

function unquote(text: string): string {
  return text
    .slice(1, -1)
    .replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
      e.length > 1
        ? String.fromCharCode(parseInt(e.slice(1), 16))
        : (ESCAPES[e] ?? `\\${e}`)
    );
}

/** The expression `source` (null when it is not one this reader knows). */
export function parseExpr(source: string): Expr | null {
  const tokens = tokenize(source);
  if (!tokens || tokens.length === 0) {
    return null;
  }
  let i = 0;
  const peek = (text: string) =>
    tokens[i]?.kind === 'op' && tokens[i].text === text;
  const expect = (text: string) => {
    if (!peek(text)) {
      throw new SyntaxError(text);
    }
    i++;
  };
  /** Items up to `close`: the items and whether a comma was seen. */
  const items = (close: string): [Expr[], boolean] => {
    const out: Expr[] = [];
    let comma = false;
    while (!peek(close)) {
      out.push(union());
      if (!peek(close)) {
        expect(',');
        comma = true;
      }
    }
    i++;
    return [out, comma];
  };
  const atom = (): Expr => {
    const tok = tokens[i++];
    if (!tok) {
      throw new SyntaxError('end');
    }
    if (tok.kind === 'num') {
      return { t: 'const', value: Number(tok.text.replace(/_/g, '')) };
    }
    if (tok.kind === 'str') {
      let text = unquote(tok.text);
      while (tokens[i]?.kind === 'str') {
        text += unquote(tokens[i++].text); // 'a' 'b': one string, as in Python
      }
      return { t: 'const', value: text };
    }
    if (tok.kind === 'name') {
      const constants = new Map<string, any>([
        ['None', null],
        ['True', true],
        ['False', false]
      ]);
      return constants.has(tok.text)
        ? { t: 'const', value: constants.get(tok.text) }
        : { t: 'name', name: tok.text };
    }
    switch (tok.text) {
      case '...':
        return { t: 'const', value: ELLIPSIS };
      case '-':
      case '+':
        return { t: 'sign', sign: tok.text, operand: postfix() };
      case '[':
        return { t: 'list', elts: items(']')[0] };
      case '(': {
        const [elts, comma] = items(')');
        return elts.length === 1 && !comma ? elts[0] : { t: 'tuple', elts };
      }
      case '{': {
        const keys: Expr[] = [];
        const values: Expr[] = [];
        while (!peek('}')) {
          keys.push(union());
          expect(':');
          values.push(union());
          if (!peek('}')) {
            expect(',');
          }
        }
        i++;
        return { t: 'dict', keys, values };
      }
    }
    throw new SyntaxError(tok.text);
  };
  const postfix = (): Expr => {
    let node = atom();
    for (;;) {
      if (peek('.') && tokens[i + 1]?.kind === 'name') {
        node = { t: 'attr', base: node, name: tokens[i + 1].text };
        i += 2;
      } else if (peek('[')) {
        i++;
        const [elts, comma] = items(']');
        if (elts.length === 0) {
          throw new SyntaxError('[]');
        }
        node = { t: 'sub', base: node, args: comma ? elts : [elts[0]] };
      } else {
        return node;
      }
    }
  };
  const union = (): Expr => {
    let node = postfix();
    while (peek('|')) {
      i++;
      node = { t: 'or', left: node, right: postfix() };
    }
    return node;
  };
  try {
    const node = union();
    return i === tokens.length ? node : null;
  } catch {
    return null;
  }
}

/** `ast.literal_eval`: the value of a literal expression; throws for anything else. */
export function literalEval(node: Expr): any {
  switch (node.t) {
    case 'const':
      if (node.value === ELLIPSIS) {
        throw new TypeError('Ellipsis has no JSON value');
      }
      return node.value;
    case 'sign': {
      const v = literalEval(node.operand);
      if (typeof v !== 'number') {
        throw new TypeError('not a number');
      }
      return node.sign === '-' ? -v : v;
    }
    case 'list':
    case 'tuple':
      return node.elts.map(literalEval);
    case 'dict': {
      const out: { [key: string]: any } = {};
      node.keys.forEach((k, j) => {
        const key = literalEval(k);
        if (typeof key !== 'string') {
          throw new TypeError('a JSON object has string keys');
        }
        out[key] = literalEval(node.values[j]);
      });
      return out;
    }
    default:
      throw new TypeError('not a literal');
  }
}

/**
 * A value as typed, for a parameter of any type: a Python or JSON literal (`'a'`, `True`,
 * `None`, `[1, 2]`, `{"k": 1}`, `true`, `null`), else the text itself as a string.
 */
export function readValue(text: string): any {
  const t = text.trim();
  const json = new Map<string, any>([
    ['true', true],
    ['false', false],
    ['null', null]
  ]);
  if (json.has(t)) {
    return json.get(t);
  }
  const node = parseExpr(t);
  if (node) {
    try {
      return literalEval(node);
    } catch {
      // not a literal: the text
    }
  }
  return t;
}

// --- a type and the values that fit it (grid.py `_fits`) -----------------------------------

const LISTS = new Set([
  'list',
  'List',
  'Sequence',
  'tuple',
  'Tuple',
  'set',
  'Set',
  'Iterable',
  'Collection'
]);
const DICTS = new Set(['dict', 'Dict', 'Mapping', 'MutableMapping']);

/**
 * The type expression of an annotation; null accepts any value (the type "None" means
 * "unknown" for a parameter, and papermill injects any JSON value where Python cannot read
 * the type).
 */
export function typeExpr(type: string): Expr | null {
  return type === 'None' ? null : parseExpr(type);
}

const isNone = (node: Expr) => node.t === 'const' && node.value === null;
const NONE: Expr = { t: 'const', value: null };

/** The name a type is known by (`typing.Optional[int]` → Optional) and its arguments. */
function named(node: Expr): { name: string | null; args: Expr[] } {
  const head = node.t === 'sub' ? node.base : node;
  const name =
    head.t === 'name' || head.t === 'attr'
      ? head.name
      : (null as string | null);
  return { name, args: node.t === 'sub' ? node.args : [] };
}

/** The members of a union (`a | b`, `Optional[a]`, `Union[a, b]`), else null. */
function unionMembers(node: Expr): Expr[] | null {
  if (node.t === 'or') {
    return [node.left, node.right];
  }
  const { name, args } = named(node);
  if (name === 'Optional') {
    return [...args, NONE];
  }
  return name === 'Union' ? args : null;
}

/** Every member of nested unions, flattened. */
function flatMembers(node: Expr): Expr[] {
  const members = unionMembers(node);
  return members ? ([] as Expr[]).concat(...members.map(flatMembers)) : [node];
}

/** Python's `round(x)`: the nearest int, ties to the even one. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** JSON with sorted keys: the identity of a value, as a point's id sees it. */
export function canonical(value: any): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map(k => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const kindOf = (v: any) =>
  v === null ? 'None' : Array.isArray(v) ? 'list' : typeof v;

type Fit = [boolean, any];

/** grid.py `_fits`: does `value` fit the type, and the value converted. */
export function fits(node: Expr | null, value: any, fromRange = false): Fit {
  if (node === null) {
    return [true, value];
  }
  if (isNone(node)) {
    return [value === null, value];
  }
  const members = unionMembers(node);
  if (members) {
    return fitsOneOf(members, value, fromRange);
  }
  const { name, args } = named(node);
  if (name === 'Literal') {
    let choices: any[];
    try {
      choices = args.map(literalEval);
    } catch {
      return [true, value];
    }
    return [
      choices.some(
        c => kindOf(c) === kindOf(value) && canonical(c) === canonical(value)
      ),
      value
    ];
  }
  switch (name) {
    case 'None':
    case 'NoneType':
      return [value === null, value];
    case 'int': {
      const v =
        fromRange && typeof value === 'number' ? roundHalfEven(value) : value;
      return [typeof v === 'number' && Number.isInteger(v), v];
    }
    case 'float':
      return [typeof value === 'number', value];
    case 'bool':
      return [typeof value === 'boolean', value];
    case 'str':
      return [typeof value === 'string', value];
  }
  if (name !== null && LISTS.has(name)) {
    if (!Array.isArray(value)) {
      return [false, value];
    }
    if (args.length === 1 || (args.length === 2 && args[1].t === 'const')) {
      const items = value.map(v => fits(args[0], v));
      return [items.every(([ok]) => ok), items.map(([, v]) => v)];
    }
    return [true, value];
  }
  if (name !== null && DICTS.has(name)) {
    if (kindOf(value) !== 'object') {
      return [false, value];
    }
    if (args.length === 2) {
      const out: { [key: string]: any } = {};
      let ok = true;
      for (const [k, v] of Object.entries(value)) {
        const [fit, converted] = fits(args[1], v);
        ok = ok && fit;
        out[k] = converted;
      }
      return [ok, out];
    }
    return [true, value];
  }
  return [true, value]; // Any, a class of the notebook's own...: papermill injects JSON
}

/** A union: a member the value fits as it is wins over one that converts it. */
function fitsOneOf(members: Expr[], value: any, fromRange: boolean): Fit {
  const results = members.map(m => fits(m, value, fromRange));
  const asIs = results.find(
    ([ok, v]) =>
      ok && kindOf(v) === kindOf(value) && canonical(v) === canonical(value)
  );
  return asIs ?? results.find(([ok]) => ok) ?? [false, value];
}

/** A type that takes numbers: a range makes sense for it. */
export function isNumericType(type: string): boolean {
  const node = typeExpr(type);
  return (
    node !== null &&
    flatMembers(node).some(m => ['int', 'float'].includes(named(m).name ?? ''))
  );
}

// --- a typed value from the text of the grid editor ----------------------------------------

/** Python's repr of a literal, for messages (`'gini'`, `True`, `None`). */
function repr(value: any): string {
  if (value === null) {
    return 'None';
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  if (typeof value === 'string') {
    return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  }
  return JSON.stringify(value);
}

/** The source of a type expression, for messages. */
function show(node: Expr): string {
  switch (node.t) {
    case 'const':
      return node.value === ELLIPSIS ? '...' : repr(node.value);
    case 'name':
      return node.name;
    case 'attr':
      return `${show(node.base)}.${node.name}`;
    case 'sub':
      return `${show(node.base)}[${node.args.map(show).join(', ')}]`;
    case 'or':
      return `${show(node.left)} | ${show(node.right)}`;
    case 'sign':
      return `${node.sign}${show(node.operand)}`;
    case 'list':
      return `[${node.elts.map(show).join(', ')}]`;
    case 'tuple':
      return `(${node.elts.map(show).join(', ')})`;
    case 'dict':
      return `{${node.keys.map((k, j) => `${show(k)}: ${show(node.values[j])}`).join(', ')}}`;
  }
}

type Reading = { value: any } | { expected: string[] };

/** The text read as one value of the type, or what the type expected. */
function read(node: Expr | null, t: string): Reading {
  if (node === null) {
    return { value: readValue(t) };
  }
  if (isNone(node)) {
    return t === 'None' || t === 'null'
      ? { value: null }
      : { expected: ['None'] };
  }
  const members = unionMembers(node);
  if (members) {
    // every member's reading; the one equal to the text read as a literal wins (the
    // union rule of `_fits`: a member the value fits as it is), else the first
    const readings = flatMembers(node).map(m => read(m, t));
    const found = readings.filter((r): r is { value: any } => 'value' in r);
    if (found.length) {
      const literal = canonical(readValue(t));
      return found.find(r => canonical(r.value) === literal) ?? found[0];
    }
    const expected = ([] as string[]).concat(
      ...readings.map(r => ('expected' in r ? r.expected : []))
    );
    return { expected: expected.filter((e, j) => expected.indexOf(e) === j) };
  }
  const { name, args } = named(node);
  switch (name) {
    case 'Literal': {
      let choices: any[];
      try {
        choices = args.map(literalEval);
      } catch {
        return { value: readValue(t) };
      }
      const value = readValue(t);
      const match =
        choices.find(
          c => kindOf(c) === kindOf(value) && canonical(c) === canonical(value)
        ) ?? choices.find(c => c === t); // a string choice typed as is: 1 for '1'
      return match !== undefined
        ? { value: match }
        : { expected: [`one of ${choices.map(repr).join(', ')}`] };
    }
    case 'None':
    case 'NoneType':
      return read(NONE, t);
    case 'int':
      return /^[-+]?\d+$/.test(t)
        ? { value: Number(t) }
        : { expected: ['an int'] };
    case 'float': {
      const n = Number(t);
      return t !== '' && isFinite(n)
        ? { value: n }
        : { expected: ['a number'] };
    }
    case 'bool':
      if (/^(true|1|yes)$/i.test(t)) {
        return { value: true };
      }
      if (/^(false|0|no)$/i.test(t)) {
        return { value: false };
      }
      return { expected: ['true or false'] };
    case 'str': {
      const quoted = /^(["']).*\1$/s.test(t) ? readValue(t) : null;
      return { value: typeof quoted === 'string' ? quoted : t };
    }
  }
  if (name !== null && (LISTS.has(name) || DICTS.has(name))) {
    const value = readValue(t);
    const [ok, converted] = fits(node, value);
    return ok ? { value: converted } : { expected: [`a ${show(node)}`] };
  }
  return { value: readValue(t) };
}

/** One typed value from its text, by the parameter's (papermill) type. */
export function parseValue(text: string, type: string): Parsed<any> {
  const t = text.trim();
  const reading = read(typeExpr(type), t);
  return 'value' in reading
    ? { value: reading.value }
    : { error: `${t || '(empty)'} is not ${reading.expected.join(' or ')}` };
}
