// The icon browsers ask for on every visit (GET /favicon.ico): a 16x16 ICO drawn here once, a
// stack of three crates (the web UI has the same in SVG, ui/icon.svg), so a browser's visit is a
// 200 rather than a NAME_UNKNOWN 404 in the logs and the metrics.
const SIZE = 16;

/** Pixel colour (BGRA) at x, y (y from the top): three rounded bars on a transparent ground. */
function pixel(x: number, y: number): [number, number, number, number] {
  const bar = Math.floor((y - 1) / 5);
  const inBar = y >= 1 && y <= 14 && (y - 1) % 5 < 4 && x >= 1 && x <= 14;
  const corner = (x === 1 || x === 14) && ((y - 1) % 5 === 0 || (y - 1) % 5 === 3);
  if (!inBar || corner) return [0, 0, 0, 0];
  // Teal shades, darker towards the bottom.
  const shades: Array<[number, number, number]> = [
    [0x9a, 0xb8, 0x2a],
    [0x85, 0x9f, 0x24],
    [0x6e, 0x84, 0x1e],
  ];
  const [b, g, r] = shades[Math.min(bar, 2)];
  return [b, g, r, 0xff];
}

function drawIcon(): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE * 4);
  // BMP rows run bottom-up.
  for (let row = 0; row < SIZE; row++) {
    for (let x = 0; x < SIZE; x++) pixels.set(pixel(x, SIZE - 1 - row), (row * SIZE + x) * 4);
  }
  // The AND mask (1 bit a pixel, rows padded to 4 bytes): all zero, the alpha channel decides.
  const mask = Buffer.alloc(SIZE * 4);
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0); // header size
  info.writeInt32LE(SIZE, 4);
  info.writeInt32LE(SIZE * 2, 8); // image and mask
  info.writeUInt16LE(1, 12); // planes
  info.writeUInt16LE(32, 14); // bits per pixel
  info.writeUInt32LE(pixels.length + mask.length, 20);
  const image = Buffer.concat([info, pixels, mask]);
  const header = Buffer.alloc(6 + 16);
  header.writeUInt16LE(1, 2); // type: icon
  header.writeUInt16LE(1, 4); // one image
  header.writeUInt8(SIZE, 6);
  header.writeUInt8(SIZE, 7);
  header.writeUInt16LE(1, 10); // planes
  header.writeUInt16LE(32, 12); // bits per pixel
  header.writeUInt32LE(image.length, 14);
  header.writeUInt32LE(header.length, 18); // offset of the image
  return Buffer.concat([header, image]);
}

export const FAVICON: Buffer = drawIcon();
