/** Reads a kernel's release string out of its image ("Linux version 6.1.0-56-cloud-amd64 (..."). */
const BANNER = Buffer.from('Linux version ', 'latin1');
const RELEASE = /^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,127}/;

export function detectKernelVersion(image: Uint8Array): string | undefined {
  const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  let from = 0;
  for (;;) {
    const at = buf.indexOf(BANNER, from);
    if (at < 0) return undefined;
    // Skip format strings ("Linux version %s") and prose: the banner's release starts with a digit.
    const rest = buf.subarray(at + BANNER.length, at + BANNER.length + 128).toString('latin1');
    const match = RELEASE.exec(rest);
    if (match && /^[0-9]/.test(match[0])) return match[0];
    from = at + 1;
  }
}
