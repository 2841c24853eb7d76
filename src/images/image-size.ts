const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The smallest root filesystem banger makes. */
export const MIN_IMAGE_BYTES = GiB;
/** Sizes are rounded up to this so they read well and align with anything downstream. */
export const IMAGE_SIZE_STEP = 256 * MiB;

/**
 * Size of the ext4 file for a tree of `contentBytes`: the content plus at least 1 GiB (or as
 * much again as the content, whichever is larger) of room for the developer's own installs,
 * rounded up to 256 MiB, never under 1 GiB. The file is sparse, so headroom costs no disk.
 */
export function imageSizeFor(contentBytes: number): number {
  if (!Number.isSafeInteger(contentBytes) || contentBytes < 0) {
    throw new RangeError(
      `content size must be a non-negative integer, got ${String(contentBytes)}`,
    );
  }
  const wanted = contentBytes + Math.max(GiB, contentBytes);
  const rounded = Math.ceil(wanted / IMAGE_SIZE_STEP) * IMAGE_SIZE_STEP;
  return Math.max(MIN_IMAGE_BYTES, rounded);
}
