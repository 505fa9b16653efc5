// Sizes in the configuration: a number of bytes, or a string such as "10GiB", "500MB", "1.5 TiB"
// (binary units are powers of 1024, decimal ones of 1000, as docker and du print them).

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

/** Bytes a size names; throws on anything else, negative or past 2^53 included. */
export function parseByteSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`invalid size ${value} (a whole number of bytes)`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`invalid size "${value}" (use e.g. 10GiB, 500MB or a number of bytes)`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error(`size "${value}" is too large`);
  return bytes;
}
