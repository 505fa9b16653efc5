// Parses an authentication challenge (RFC 7235), as the registry sends it in WWW-Authenticate or,
// to a request from the UI, in X-Stowage-Authenticate: `Bearer realm="…",service="…",scope="…"`.

export interface Challenge {
  /** Lower case: "bearer", "basic". */
  scheme: string;
  params: Record<string, string>;
}

const PARAM = /\s*([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;

export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  const match = /^\s*([A-Za-z][\w-]*)(?:\s+|$)/.exec(header ?? '');
  if (!match) return undefined;
  const params: Record<string, string> = {};
  PARAM.lastIndex = match[0].length;
  const text = header!;
  while (PARAM.lastIndex < text.length) {
    const at = PARAM.lastIndex;
    const m = PARAM.exec(text);
    if (!m || PARAM.lastIndex === at) break;
    params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  }
  return { scheme: match[1].toLowerCase(), params };
}
