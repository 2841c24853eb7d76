import { operationFailed } from '../base/index.js';
import {
  DEBIAN_PACKAGE_NAME_PATTERN,
  DEBIAN_VERSION_PATTERN,
  type PackagePin,
} from './package-lock.js';

/**
 * The installed packages recorded in a dpkg status file (`var/lib/dpkg/status`), sorted by name.
 * Read ourselves rather than through `dpkg-query --admindir` so the same code works on a built
 * tree and on a file read out of an ext4 image.
 */
export function parseDpkgStatus(text: string): PackagePin[] {
  const byName = new Map<string, PackagePin>();
  for (const paragraph of text.split(/\n\s*\n/)) {
    const fields = parseParagraph(paragraph);
    const name = fields.get('package');
    const version = fields.get('version');
    const status = (fields.get('status') ?? '').split(/\s+/);
    if (name === undefined || version === undefined) continue;
    if (status[1] !== 'ok' || status[2] !== 'installed') continue;
    if (!DEBIAN_PACKAGE_NAME_PATTERN.test(name) || !DEBIAN_VERSION_PATTERN.test(version)) {
      throw operationFailed(
        `dpkg status lists a package with an invalid name or version: ${name} ${version}`,
      );
    }
    byName.set(name, { name, version });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function parseParagraph(paragraph: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of paragraph.split('\n')) {
    // Continuation lines (descriptions, conffiles) start with whitespace; we need none of them.
    if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return fields;
}
