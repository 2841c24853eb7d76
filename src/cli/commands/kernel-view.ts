/** How kernels are shown: the shape the daemon returns and its rendering. */
import type { CliContext } from '../context.js';
import { humanBytes } from '../render.js';

export interface KernelView {
  name: string;
  kernelVersion: string;
  source: Record<string, unknown> & { kind: string };
  backends: string[];
  createdAt: string;
  files: { name: string; size: number; sha256: string; role?: string }[];
}

export function kernelSourceText(source: KernelView['source']): string {
  if (source.kind === 'debian')
    return `debian ${String(source.package)} ${String(source.packageVersion)}`;
  if (source.kind === 'import') return `import from ${String(source.from)}`;
  if (source.kind === 'catalog')
    return `catalog ${String(source.entry)} (${String(source.catalog)})`;
  if (source.kind === 'build')
    return `built from ${String(source.package)} ${String(source.packageVersion)} with ${String(source.config)}`;
  return source.kind;
}

export function printKernel(ctx: CliContext, kernel: KernelView): void {
  const lines = [
    `name:     ${kernel.name}`,
    `version:  ${kernel.kernelVersion}`,
    `source:   ${kernelSourceText(kernel.source)}`,
    `backends: ${kernel.backends.join(', ')}`,
    `created:  ${kernel.createdAt}`,
    'files:',
    ...kernel.files.map((f) => `  ${f.name}  ${humanBytes(f.size)}  sha256:${f.sha256}`),
  ];
  ctx.stdout.write(lines.join('\n') + '\n');
}
