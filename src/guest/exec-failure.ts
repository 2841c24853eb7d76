/**
 * Turns an EXEC_FAILED report into a BangerError whose code says what kind of failure it
 * was: a missing command or directory is 'not_found', a permission problem is
 * 'precondition_failed', a guest out of resources is 'unavailable'.
 */
import { BangerError, type ErrorCode } from '../base/index.js';
import { ExecStage, linuxErrnoName, type ExecFailedPayload } from '../protocol/index.js';

const STAGE_NAMES: Readonly<Record<number, string>> = {
  [ExecStage.request]: 'request',
  [ExecStage.cwd]: 'cwd',
  [ExecStage.setup]: 'setup',
  [ExecStage.exec]: 'exec',
};

function codeFor(stage: number, errnoName: string): ErrorCode {
  if (stage === ExecStage.request) return 'bad_request';
  if (stage === ExecStage.setup) {
    return ['EAGAIN', 'EMFILE', 'ENFILE', 'ENOMEM'].includes(errnoName)
      ? 'unavailable'
      : 'operation_failed';
  }
  switch (errnoName) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'not_found';
    case 'EACCES':
    case 'EPERM':
    case 'ENOEXEC':
    case 'ETXTBSY':
    case 'EISDIR':
    case 'ELOOP':
      return 'precondition_failed';
    case 'E2BIG':
    case 'ENAMETOOLONG':
      return 'bad_request';
    default:
      return 'operation_failed';
  }
}

/** Guest text is untrusted: one line, printable, bounded. */
export function sanitizeGuestText(text: string, max = 500): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

export function execFailureError(failed: ExecFailedPayload, argv: readonly string[]): BangerError {
  const errnoName = linuxErrnoName(failed.errno);
  const stage = STAGE_NAMES[failed.stage] ?? `stage ${failed.stage}`;
  const message = sanitizeGuestText(failed.message) || `${stage} failed with ${errnoName}`;
  const code = codeFor(failed.stage, errnoName);
  return new BangerError(code, `cannot run ${argv[0] ?? ''} in the guest: ${message}`, {
    details: { argv: [...argv], errno: errnoName, stage },
    hint:
      code === 'not_found' && failed.stage === ExecStage.exec
        ? 'is the program installed in the image? pass an absolute path or set PATH in env'
        : undefined,
  });
}
