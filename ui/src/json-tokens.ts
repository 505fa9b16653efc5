// Splits JSON text into tokens for the highlighter (highlight.ts): keys, strings, numbers,
// literals, punctuation and whitespace. The tokens concatenate back to the exact text; anything
// that is not JSON comes out as "text", never dropped. Pure: test/ui/json-tokens.test.ts.

export type TokenKind = 'key' | 'string' | 'number' | 'literal' | 'punct' | 'space' | 'text';

export interface Token {
  kind: TokenKind;
  text: string;
}

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)\b|([{}[\],:])|(\s+)|(.)/gsy;

export function tokenizeJson(text: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, part: string) => {
    const last = tokens[tokens.length - 1];
    // Runs of unrecognised characters stay one token.
    if (kind === 'text' && last?.kind === 'text') last.text += part;
    else tokens.push({ kind, text: part });
  };
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    if (m[1] !== undefined) {
      if (m[2] !== undefined) {
        push('key', m[1]);
        const colon = m[2];
        if (colon.length > 1) push('space', colon.slice(0, -1));
        push('punct', ':');
      } else push('string', m[1]);
    } else if (m[3] !== undefined) push('number', m[3]);
    else if (m[4] !== undefined) push('literal', m[4]);
    else if (m[5] !== undefined) push('punct', m[5]);
    else if (m[6] !== undefined) push('space', m[6]);
    else push('text', m[7]);
  }
  return tokens;
}

/** The text pretty-printed with two spaces when it is JSON, else as it is. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
