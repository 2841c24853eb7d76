/** How images are shown: the shape the daemon returns and its rendering. */
import type { CliContext } from '../context.js';
import { humanBytes } from '../render.js';

export interface ImageView {
  name: string;
  kernel: string;
  sizeBytes: number;
  sha256: string;
  source: Record<string, unknown> & { kind: string };
  createdAt: string;
  packages?: number;
}

export function imageSourceText(source: ImageView['source']): string {
  if (source.kind === 'debian') return `debian ${String(source.suite)}`;
  if (source.kind === 'register') return `registered from ${String(source.from)}`;
  return source.kind;
}

export function printImage(ctx: CliContext, image: ImageView): void {
  const lines = [
    `name:    ${image.name}`,
    `kernel:  ${image.kernel}`,
    `size:    ${humanBytes(image.sizeBytes)}`,
    `sha256:  ${image.sha256}`,
    `source:  ${imageSourceText(image.source)}`,
    `created: ${image.createdAt}`,
  ];
  ctx.stdout.write(lines.join('\n') + '\n');
}
