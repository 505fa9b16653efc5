// How numbers, times and digests read on the page: sizes in binary units (KiB, MiB), times as
// "3 hours ago" (the exact ISO time goes in a title), digests shortened to 12 hex digits.
// Pure functions: test/ui/format.test.ts runs them in Node.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function humanSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  // Three significant digits: 1.23 MiB, 12.3 MiB, 123 MiB.
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
  ['week', 4.345],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "5 minutes ago", "yesterday", "in 2 hours" (a clock ahead of ours); "" for no time. */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  let amount = (then - now) / 1000;
  if (Math.abs(amount) < 45) return 'just now';
  for (const [unit, size] of STEPS) {
    if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return iso;
}

/** sha256:0123456789abcdef… -> 0123456789ab (the algorithm goes when it is sha256). */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) return '';
  const [algorithm, hex] = digest.includes(':') ? digest.split(':', 2) : ['', digest];
  const short = hex.slice(0, 12);
  return algorithm === 'sha256' || algorithm === '' ? short : `${algorithm}:${short}`;
}

export interface PlatformLike {
  os: string;
  architecture: string;
  variant?: string | null;
}

export function platformName(p: PlatformLike | null | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** An index's attestation manifests are "unknown/unknown": not a platform anyone runs. */
export function isRunnable(p: PlatformLike | null | undefined): boolean {
  return !!p && p.os !== 'unknown' && p.architecture !== 'unknown';
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en')} ${count === 1 ? one : many}`;
}

/** 1 -> "1.0×", 3.456 -> "3.5×" */
export function ratio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${value.toFixed(1)}×`;
}
