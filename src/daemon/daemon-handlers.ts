/** RPC methods about the daemon itself. */
import type { Layout } from '../config/index.js';
import { parseNoParams } from '../protocol/index.js';
import type { Handler } from './vm-handlers.js';
import { bangerVersion } from '../config/index.js';

export function daemonHandlers(deps: {
  layout: Layout;
  requestStop: () => void;
}): Record<string, Handler> {
  const startedAt = new Date().toISOString();
  return {
    'daemon.status': (call) => {
      parseNoParams(call.params);
      return Promise.resolve({
        pid: process.pid,
        version: bangerVersion(),
        startedAt,
        socket: deps.layout.daemonSocket,
        log: deps.layout.daemonLog,
        stateDir: deps.layout.stateDir,
      });
    },
    'daemon.stop': (call) => {
      parseNoParams(call.params);
      // Answer first, then stop: running VMs keep running and are adopted by the next daemon.
      setTimeout(() => deps.requestStop(), 50).unref();
      return Promise.resolve({ pid: process.pid });
    },
  };
}
