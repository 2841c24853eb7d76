/**
 * Turns a tar entry name (or hard link target) from a layer into a path relative to the image
 * root, or refuses it: absolute names, `..` components, control characters that debugfs cannot
 * quote, and names longer than ext4 allows never reach the filesystem.
 */
import { badRequest } from '../../base/index.js';

const MAX_COMPONENT_BYTES = 255;
const MAX_PATH_BYTES = 4095;

/** The normalised relative path ('' is the image root). */
export function entryPath(name: string, where: string, what = 'entry'): string {
  const show = JSON.stringify(name.length > 200 ? `${name.slice(0, 197)}...` : name);
  if (name === '') throw badRequest(`${where}: ${what} has an empty name`);
  if (name.startsWith('/')) {
    throw badRequest(
      `${where}: ${what} ${show} is an absolute path; layers hold relative paths only`,
    );
  }
  if (/[\0\n\r]/.test(name)) {
    throw badRequest(`${where}: ${what} ${show} contains a NUL, newline or carriage return`);
  }
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw badRequest(`${where}: ${what} ${show} contains "..": it could reach outside the image`);
    }
    if (Buffer.byteLength(part) > MAX_COMPONENT_BYTES) {
      throw badRequest(`${where}: ${what} ${show} has a name longer than 255 bytes`);
    }
    parts.push(part);
  }
  const rel = parts.join('/');
  if (Buffer.byteLength(rel) > MAX_PATH_BYTES) {
    throw badRequest(`${where}: ${what} ${show} is longer than 4095 bytes`);
  }
  return rel;
}
