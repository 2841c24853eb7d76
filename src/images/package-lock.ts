import { badRequest } from '../base/index.js';

/** Debian Policy 5.6.1 (package names) and 5.6.12 (versions), without the corner cases we never meet. */
export const DEBIAN_PACKAGE_NAME_PATTERN = /^[a-z0-9][a-z0-9+.-]+$/;
export const DEBIAN_VERSION_PATTERN = /^(?:[0-9]+:)?[A-Za-z0-9][A-Za-z0-9.+~-]*$/;

export interface PackagePin {
  name: string;
  version: string;
}

/**
 * Parses lock entries (`name=version`, as apt takes them). The lock makes a rebuild install
 * exactly the recorded versions, or fail clearly when the mirror no longer carries one.
 */
export function parseLock(entries: readonly string[]): PackagePin[] {
  const pins = new Map<string, PackagePin>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq);
    const version = eq < 0 ? '' : entry.slice(eq + 1);
    if (!DEBIAN_PACKAGE_NAME_PATTERN.test(name) || !DEBIAN_VERSION_PATTERN.test(version)) {
      throw badRequest(
        `invalid lock entry ${JSON.stringify(entry)}: it must be name=version with a Debian package name and version`,
        { hint: 'for example openssh-server=1:9.2p1-2+deb12u3' },
      );
    }
    const seen = pins.get(name);
    if (seen !== undefined && seen.version !== version) {
      throw badRequest(`lock pins ${name} twice, to ${seen.version} and ${version}`);
    }
    pins.set(name, { name, version });
  }
  return [...pins.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The value of mmdebstrap's `--include`: the wanted packages, each pinned when the lock names it,
 * followed by the lock's other pins (dependencies), so apt resolves to exactly the locked set.
 */
export function formatIncludeList(
  packages: readonly string[],
  lock: readonly PackagePin[] = [],
): string {
  for (const name of packages) {
    if (!DEBIAN_PACKAGE_NAME_PATTERN.test(name)) {
      throw badRequest(`invalid Debian package name ${JSON.stringify(name)}`);
    }
  }
  const pinned = new Map(lock.map((pin) => [pin.name, pin.version]));
  const wanted = [...new Set(packages)];
  const items = wanted.map((name) => {
    const version = pinned.get(name);
    return version === undefined ? name : `${name}=${version}`;
  });
  for (const pin of lock) {
    if (!wanted.includes(pin.name)) items.push(`${pin.name}=${pin.version}`);
  }
  return items.join(',');
}

/** The lock that reproduces an image: every recorded package at its recorded version. */
export function lockFromPackages(packages: readonly PackagePin[]): string[] {
  return packages.map((p) => `${p.name}=${p.version}`);
}
