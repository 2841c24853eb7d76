/**
 * PrivilegedOps over bangerd-root's socket (a system install): every call is one connection,
 * one typed request, one answer. The daemon holds no privileges of its own; what the helper
 * refuses comes back as its BangerError, code and message intact.
 */
import { BangerError, type Logger } from '../base/index.js';
import { call } from '../ipc/index.js';
import type { HelperHello, HelperOp, PrivilegedOps } from '../protocol/index.js';

export interface HelperOps extends PrivilegedOps {
  /** Who answers: the helper's version and the owner it serves. */
  hello(): Promise<HelperHello>;
}

export function createHelperOps(options: { socketPath: string; logger: Logger }): HelperOps {
  const { socketPath, logger } = options;
  const ask = async <T>(op: HelperOp, params: unknown): Promise<T> => {
    try {
      return await call<T>(socketPath, { method: op, params });
    } catch (err) {
      if (err instanceof BangerError && err.code === 'unavailable') {
        throw new BangerError('unavailable', `bangerd-root does not answer (${err.message})`, {
          cause: err,
          hint: 'check the privileged helper: `banger system status` (restart: `sudo banger system restart`)',
        });
      }
      if (err instanceof BangerError && (err.code === 'bad_request' || err.code === 'unauthorized'))
        logger.warn('bangerd-root refused an operation', {
          op,
          code: err.code,
          error: err.message,
        });
      throw err;
    }
  };
  return {
    hello: () => ask('hello', {}),
    ensureBridge: (request) => ask('ensureBridge', request),
    removeNetwork: (request) => ask('removeNetwork', request),
    createTap: (request) => ask('createTap', request),
    deleteTap: (request) => ask('deleteTap', request),
    listLinks: (request) => ask('listLinks', request),
    syncNat: (request) => ask('syncNat', request),
    startNetProcess: (spec) => ask('startNetProcess', spec),
    stopNetProcess: (handle) => ask('stopNetProcess', handle),
    netProcessAlive: (handle) => ask('netProcessAlive', handle),
    launchVmm: (request) => ask('launchVmm', request),
    killVmm: (request) => ask('killVmm', request),
    releaseVmm: (request) => ask('releaseVmm', request),
  };
}
