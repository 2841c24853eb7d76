/** Reads the routes of the caller's network namespace (`ip -j route`), for the overlap check. */
import { run } from '../base/index.js';
import type { HostRoute } from './addressing.js';

export async function readHostRoutes(options: { ipBinary?: string } = {}): Promise<HostRoute[]> {
  const result = await run(options.ipBinary ?? 'ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
  const rows = JSON.parse(result.stdout.toString() || '[]') as {
    dst?: string;
    dev?: string;
    type?: string;
  }[];
  return rows
    .filter((r) => typeof r.dst === 'string' && (r.type === undefined || r.type === 'unicast'))
    .map((r) => ({ dst: r.dst as string, dev: r.dev }));
}
