import { describe, expect, it } from 'vitest';
import { deterministicUuid } from './deterministic-uuid.js';
import { IMAGE_SIZE_STEP, MIN_IMAGE_BYTES, imageSizeFor } from './image-size.js';

const MiB = 2 ** 20;

describe('imageSizeFor', () => {
  it('never goes under 1 GiB', () => {
    expect(imageSizeFor(0)).toBe(MIN_IMAGE_BYTES);
    expect(imageSizeFor(1)).toBe(1280 * MiB);
  });

  it('leaves at least 1 GiB (or the content size again) of room, rounded up to 256 MiB', () => {
    const debian = 200 * MiB;
    const size = imageSizeFor(debian);
    expect(size - debian).toBeGreaterThanOrEqual(1024 * MiB);
    expect(size % IMAGE_SIZE_STEP).toBe(0);
    expect(size).toBe(1280 * MiB);
    const big = 3000 * MiB;
    expect(imageSizeFor(big) - big).toBeGreaterThanOrEqual(big);
  });

  it('refuses nonsense', () => {
    expect(() => imageSizeFor(-1)).toThrow(RangeError);
    expect(() => imageSizeFor(1.5)).toThrow(RangeError);
  });
});

describe('deterministicUuid', () => {
  it('is a stable RFC 4122 version 5 UUID per name', () => {
    const a = deterministicUuid('image:debian-bookworm');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicUuid('image:debian-bookworm')).toBe(a);
    expect(deterministicUuid('image:other')).not.toBe(a);
  });
});
