/** The install's owner, looked up through NSS (`getent`), so LDAP/sssd users work too. */
import { BangerError, run } from '../../base/index.js';
import { USER_NAME_PATTERN } from '../../protocol/index.js';

export interface OwnerAccount {
  name: string;
  uid: number;
  gid: number;
  /** The primary group's name (the unit's Group=). */
  group: string;
  home: string;
}

async function getent(db: 'passwd' | 'group', key: string): Promise<string[] | undefined> {
  const result = await run('getent', [db, key], { okCodes: [0, 2] });
  if (result.code !== 0) return undefined;
  const line = result.stdout.toString('utf8').split('\n')[0] ?? '';
  return line.split(':');
}

export async function lookupOwner(name: string): Promise<OwnerAccount> {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new BangerError(
      'bad_request',
      `owner ${JSON.stringify(name)} is not a user name (${String(USER_NAME_PATTERN)})`,
    );
  }
  const pw = await getent('passwd', name);
  if (pw === undefined || pw[0] !== name) {
    throw new BangerError('not_found', `there is no user ${name}`, {
      hint: `create it first (useradd -m ${name}), or pick an existing user`,
    });
  }
  const uid = Number(pw[2]);
  const gid = Number(pw[3]);
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid))
    throw new BangerError('operation_failed', `getent passwd ${name} printed no uid/gid`);
  if (uid === 0 || gid === 0) {
    throw new BangerError(
      'bad_request',
      `the owner must be an unprivileged user, not ${name} (uid ${String(uid)}, gid ${String(gid)})`,
      { hint: 'bangerd runs as the owner; root work goes through bangerd-root' },
    );
  }
  const group = (await getent('group', String(gid)))?.[0] ?? String(gid);
  return { name, uid, gid, group, home: pw[5] ?? '/' };
}
