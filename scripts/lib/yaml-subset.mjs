// A YAML reader for the subset that OpenAPI/swagger files use: block mappings and sequences
// (a sequence may sit at its key's indentation), plain, quoted and multi-line scalars, folded
// and literal block scalars, flow sequences of scalars, `{}`, comments. Anything else
// (anchors, aliases, tags, flow mappings with content, complex keys, several documents)
// is refused with its line number rather than misread. No dependencies: CI and the test
// fixture run it with plain node.

/** @param {string} text @returns {unknown} */
export function parseYaml(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const state = { lines, i: 0 };
  skipBlank(state);
  if (state.i >= lines.length) return null;
  const first = lines[state.i];
  if (/^---\s*$/.test(first)) {
    state.i++;
    skipBlank(state);
  }
  const value = parseNode(state, indentOf(lines[state.i] ?? ''));
  skipBlank(state);
  if (state.i < lines.length) fail(state, 'unexpected content (or a second document)');
  return value;
}

function fail(state, why, line = state.i) {
  throw new Error(`YAML line ${line + 1}: ${why}`);
}

function indentOf(line) {
  return /^ */.exec(line)[0].length;
}

function isBlank(line) {
  return /^\s*(#.*)?$/.test(line);
}

function skipBlank(state) {
  while (state.i < state.lines.length && isBlank(state.lines[state.i])) state.i++;
}

function parseNode(state, indent) {
  skipBlank(state);
  const line = state.lines[state.i];
  if (line === undefined) return null;
  if (line.includes('\t') && /^\s*\t/.test(line))
    fail(state, 'tabs are not allowed for indentation');
  const content = line.slice(indentOf(line));
  if (/^-( |$)/.test(content)) return parseSequence(state, indentOf(line));
  if (splitKey(content) !== undefined) return parseMapping(state, indentOf(line));
  if (indentOf(line) < indent) return null;
  fail(state, `expected a mapping or a sequence, got ${JSON.stringify(content)}`);
}

/** "key: rest" -> [key, rest]; undefined when the line is not a mapping entry. */
function splitKey(content) {
  let key;
  let rest;
  if (content.startsWith('"') || content.startsWith("'")) {
    const end = quotedEnd(content, 0);
    if (end < 0) return undefined;
    const after = content.slice(end + 1);
    const m = /^\s*:( |$)/.exec(after);
    if (!m) return undefined;
    key = unquote(content.slice(0, end + 1));
    rest = after.slice(m[0].length);
  } else {
    const m = /^([^\s#'"\-?:,[\]{}&*!|>%@`][^#]*?|-[^\s][^#]*?)\s*:( +|$)/.exec(content);
    if (!m) return undefined;
    key = m[1];
    rest = content.slice(m[0].length);
  }
  return [key, rest];
}

function parseMapping(state, indent) {
  const out = {};
  for (;;) {
    skipBlank(state);
    const line = state.lines[state.i];
    if (line === undefined) break;
    const ind = indentOf(line);
    if (ind < indent) break;
    if (ind > indent) fail(state, `bad indentation (expected ${indent} spaces)`);
    const content = line.slice(ind);
    if (/^-( |$)/.test(content)) break;
    const entry = splitKey(content);
    if (entry === undefined) fail(state, `expected "key: value", got ${JSON.stringify(content)}`);
    const [key, rest] = entry;
    if (key.startsWith('? ')) fail(state, 'complex keys are not supported');
    if (Object.prototype.hasOwnProperty.call(out, key)) fail(state, `duplicate key ${key}`);
    const lineNo = state.i;
    state.i++;
    out[key] = parseValueAfterKey(state, indent, rest, lineNo);
  }
  return out;
}

/** The value of a mapping entry or sequence item whose inline text is `rest`. */
function parseValueAfterKey(state, indent, rest, lineNo) {
  const inline = stripComment(rest).trim();
  if (inline === '') {
    skipBlank(state);
    const next = state.lines[state.i];
    if (next === undefined) return null;
    const ind = indentOf(next);
    const content = next.slice(ind);
    if (ind > indent && !/^-( |$)/.test(content) && splitKey(content) === undefined) {
      // A scalar that starts on the line below its key.
      const lineNo = state.i;
      state.i++;
      return parseValueAfterKey(state, indent, content, lineNo);
    }
    if (ind > indent) return parseNode(state, ind);
    // A sequence may start at its key's own indentation.
    if (ind === indent && /^-( |$)/.test(next.slice(ind))) return parseSequence(state, ind);
    return null;
  }
  if (/^[>|][+-]?$/.test(inline)) return parseBlockScalar(state, indent, inline);
  if (/^[&*!]/.test(inline)) fail(state, 'anchors, aliases and tags are not supported', lineNo);
  if (inline.startsWith('[')) return parseFlowSequence(state, inline, lineNo);
  if (inline.startsWith('{')) {
    if (/^\{\s*\}$/.test(inline)) return {};
    fail(state, 'flow mappings are not supported', lineNo);
  }
  if (inline.startsWith('"') || inline.startsWith("'")) {
    // A quoted string may span lines: each line break folds to a space, an empty line to "\n".
    if (inline.startsWith("'") && quotedEnd(inline, 0) < 0)
      fail(state, 'multi-line single-quoted strings are not supported', lineNo);
    let joined = inline;
    let end = quotedEnd(joined, 0);
    while (end < 0) {
      const next = state.lines[state.i];
      if (next === undefined) fail(state, 'unterminated quoted string', lineNo);
      state.i++;
      const piece = next.trim();
      joined += piece === '' ? '\\n' : joined.endsWith('\\n') ? piece : ` ${piece}`;
      end = quotedEnd(joined, 0);
    }
    if (stripComment(joined.slice(end + 1)).trim() !== '')
      fail(state, 'text after a quoted string', lineNo);
    return unquote(joined.slice(0, end + 1));
  }
  // A plain scalar continues on following lines indented deeper than its key.
  const parts = [inline];
  while (state.i < state.lines.length) {
    const next = state.lines[state.i];
    if (isBlank(next)) {
      // A blank line inside a multi-line plain scalar is a newline; at its end it is nothing.
      let j = state.i;
      while (j < state.lines.length && isBlank(state.lines[j])) j++;
      const after = state.lines[j];
      if (after === undefined || indentOf(after) <= indent) break;
      parts.push('\n');
      state.i = j;
      continue;
    }
    if (indentOf(next) <= indent) break;
    parts.push(stripComment(next).trim());
    state.i++;
  }
  if (parts.length === 1) return plainScalar(inline);
  let text = '';
  for (const p of parts) {
    if (p === '\n') text += '\n';
    else text += text === '' || text.endsWith('\n') ? p : ` ${p}`;
  }
  return text;
}

function parseSequence(state, indent) {
  const out = [];
  for (;;) {
    skipBlank(state);
    const line = state.lines[state.i];
    if (line === undefined) break;
    const ind = indentOf(line);
    if (ind !== indent || !/^-( |$)/.test(line.slice(ind))) {
      if (ind > indent) fail(state, 'bad indentation inside a sequence');
      break;
    }
    const afterDash = line.slice(ind + 1);
    const gap = indentOf(afterDash);
    const content = afterDash.slice(gap);
    if (stripComment(content).trim() === '') {
      state.i++;
      skipBlank(state);
      const next = state.lines[state.i];
      out.push(
        next !== undefined && indentOf(next) > indent ? parseNode(state, indentOf(next)) : null,
      );
      continue;
    }
    if (/^-( |$)/.test(content)) fail(state, 'nested inline sequences are not supported');
    if (splitKey(content) !== undefined) {
      // "- key: value" opens a mapping whose keys sit at the column of "key".
      const column = ind + 1 + gap;
      state.lines[state.i] = ' '.repeat(column) + content;
      out.push(parseMapping(state, column));
      continue;
    }
    const lineNo = state.i;
    state.i++;
    out.push(parseValueAfterKey(state, indent, content, lineNo));
  }
  return out;
}

function parseBlockScalar(state, indent, header) {
  const folded = header.startsWith('>');
  const chomp = header.length > 1 ? header[1] : '';
  const raw = [];
  let blockIndent;
  while (state.i < state.lines.length) {
    const line = state.lines[state.i];
    if (line.trim() === '') {
      raw.push('');
      state.i++;
      continue;
    }
    const ind = indentOf(line);
    if (ind <= indent) break;
    blockIndent ??= ind;
    if (ind < blockIndent) break;
    raw.push(line.slice(blockIndent));
    state.i++;
  }
  // Trailing blank lines belong to the chomping rule, not to the content.
  let trailing = 0;
  while (raw.length > 0 && raw[raw.length - 1] === '') {
    raw.pop();
    trailing++;
  }
  let text;
  if (folded) {
    text = '';
    for (let k = 0; k < raw.length; k++) {
      const cur = raw[k];
      if (k === 0) text = cur;
      else if (cur === '') text += '\n';
      else if (raw[k - 1] === '') text += cur;
      else if (/^\s/.test(cur) || /^\s/.test(raw[k - 1])) text += `\n${cur}`;
      else text += ` ${cur}`;
    }
  } else {
    text = raw.join('\n');
  }
  if (chomp === '-') return text;
  if (chomp === '+') return `${text}\n${'\n'.repeat(trailing)}`;
  return raw.length === 0 ? '' : `${text}\n`;
}

function parseFlowSequence(state, inline, lineNo) {
  const text = stripComment(inline).trim();
  if (!text.endsWith(']')) fail(state, 'multi-line flow sequences are not supported', lineNo);
  const body = text.slice(1, -1).trim();
  if (body === '') return [];
  const items = [];
  let k = 0;
  while (k < body.length) {
    while (body[k] === ' ') k++;
    let item;
    if (body[k] === '"' || body[k] === "'") {
      const end = quotedEnd(body, k);
      if (end < 0) fail(state, 'unterminated quoted string', lineNo);
      item = unquote(body.slice(k, end + 1));
      k = end + 1;
    } else {
      const end = body.indexOf(',', k);
      const piece = (end < 0 ? body.slice(k) : body.slice(k, end)).trim();
      if (/[[\]{}]/.test(piece)) fail(state, 'nested flow collections are not supported', lineNo);
      item = plainScalar(piece);
      k = end < 0 ? body.length : end;
    }
    items.push(item);
    while (body[k] === ' ') k++;
    if (k < body.length) {
      if (body[k] !== ',') fail(state, 'expected "," in a flow sequence', lineNo);
      k++;
    }
  }
  return items;
}

/** Index of the closing quote of the quoted string starting at `start`, or -1. */
function quotedEnd(text, start) {
  const q = text[start];
  for (let k = start + 1; k < text.length; k++) {
    if (q === '"' && text[k] === '\\') {
      k++;
      continue;
    }
    if (text[k] === q) {
      if (q === "'" && text[k + 1] === "'") {
        k++;
        continue;
      }
      return k;
    }
  }
  return -1;
}

function unquote(token) {
  if (token.startsWith("'")) return token.slice(1, -1).replaceAll("''", "'");
  const inner = token.slice(1, -1);
  // YAML double-quoted escapes are a superset of JSON's; the ones JSON lacks are refused.
  if (/\\[^"\\/bfnrtu]/.test(inner)) throw new Error(`unsupported escape in ${token}`);
  return JSON.parse(
    `"${inner.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`,
  );
}

/** Removes a " #comment" from unquoted text (a "#" inside quotes is kept). */
function stripComment(text) {
  let quote;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (quote) {
      if (c === '\\' && quote === '"') k++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      if (k === 0 || /\s|\[|,/.test(text[k - 1])) quote = c;
    } else if (c === '#' && (k === 0 || /\s/.test(text[k - 1]))) {
      return text.slice(0, k);
    }
  }
  return text;
}

/** YAML 1.2 core schema: null, booleans, integers, floats; anything else is a string. */
function plainScalar(text) {
  if (/^(null|Null|NULL|~)?$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return Number(text);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^[&*!]/.test(text)) throw new Error(`anchors, aliases and tags are not supported: ${text}`);
  return text;
}
