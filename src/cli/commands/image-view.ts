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
  userland?: { init: boolean; sshd: boolean; packageManager: string | null };
}

export function imageSourceText(source: ImageView['source']): string {
  if (source.kind === 'debian') return `debian ${String(source.suite)}`;
  if (source.kind === 'register') {
    const promoted = typeof source.promotedAt === 'string' ? ' (promoted)' : '';
    return `registered from ${String(source.from)}${promoted}`;
  }
  if (source.kind === 'oci') return `oci ${String(source.ref)}`;
  if (source.kind === 'catalog')
    return `catalog ${String(source.entry)} (${String(source.catalog)})`;
  return source.kind;
}

/** What the image's userland means for the user (ssh in particular); undefined when unknown. */
export function userlandText(image: ImageView): string | undefined {
  const u = image.userland;
  if (u === undefined) return undefined;
  const init = u.init ? 'its own init' : 'no init of its own (banger-init runs it)';
  if (u.sshd) return `userland: ${init}; ssh server present`;
  if (u.packageManager !== null) {
    return `userland: ${init}; no ssh server: it is installed at first boot with ${u.packageManager}`;
  }
  return `userland: ${init}; no ssh server and no package manager: no ssh, but vm run and vm exec work`;
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
