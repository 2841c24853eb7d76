/**
 * Reads depmod's modules.dep and answers "which module files, in which order, must be loaded
 * so that these modules work": every dependency before its user, each file once. Modules
 * that the kernel has built in (modules.builtin) need no file and are left out.
 */
import { BangerError } from '../base/index.js';

export interface ModulesIndex {
  /** Normalised module name -> path of its file (relative to lib/modules/VER). */
  files: Map<string, string>;
  /** Normalised module name -> normalised names it depends on (as listed). */
  deps: Map<string, string[]>;
  /** Normalised names of modules built into the kernel. */
  builtin: Set<string>;
}

export interface ModuleFile {
  name: string;
  /** Path relative to lib/modules/VER, as modules.dep names it. */
  path: string;
}

/** "virtio-rng" and "virtio_rng" are the same module to the kernel. */
export function moduleName(nameOrPath: string): string {
  const base = nameOrPath.split('/').pop() ?? nameOrPath;
  return base.replace(/\.ko(\.(gz|xz|zst))?$/, '').replaceAll('-', '_');
}

export function parseModulesDep(modulesDep: string, modulesBuiltin = ''): ModulesIndex {
  const files = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const [index, raw] of modulesDep.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new BangerError(
        'operation_failed',
        `modules.dep line ${String(index + 1)} has no "module: deps" shape`,
      );
    }
    const file = line.slice(0, colon).trim();
    const name = moduleName(file);
    files.set(name, file);
    deps.set(
      name,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter((d) => d !== '')
        .map(moduleName),
    );
  }
  const builtin = new Set(
    modulesBuiltin
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map(moduleName),
  );
  return { files, deps, builtin };
}

/**
 * The module files to load for `wanted`, dependencies first (depth-first post-order, so the
 * order does not depend on how depmod sorted each line). Throws naming a module that is
 * neither a module file nor built in, and on a dependency cycle.
 */
export function resolveModuleOrder(index: ModulesIndex, wanted: readonly string[]): ModuleFile[] {
  const order: ModuleFile[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    if (done.has(name)) return;
    if (visiting.has(name)) {
      throw new BangerError(
        'operation_failed',
        `module dependency cycle: ${[...chain, name].join(' -> ')}`,
      );
    }
    const file = index.files.get(name);
    if (file === undefined) {
      if (index.builtin.has(name)) {
        done.add(name);
        return;
      }
      throw new BangerError(
        'operation_failed',
        `kernel module ${name}${chain.length > 0 ? ` (needed by ${chain.join(' -> ')})` : ''} is neither in modules.dep nor built in`,
      );
    }
    visiting.add(name);
    // depmod lists the deepest dependency last; visiting from the end loads it first.
    for (const dep of [...(index.deps.get(name) ?? [])].reverse()) visit(dep, [...chain, name]);
    visiting.delete(name);
    done.add(name);
    order.push({ name, path: file });
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}
