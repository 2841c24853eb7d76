/**
 * SSH into VMs without a route: the install key goes into each guest's authorized_keys at
 * boot (a `banger.ssh_key=TYPE,BASE64` kernel argument that banger-init writes), the guest's
 * host key is read through the agent and pinned in banger's own known_hosts on first use
 * (a changed key is refused naming the VM), and connections to the guest's port 22 ride the
 * agent channel. Entries leave known_hosts when their VM is deleted. banger-init starts sshd
 * on demand and makes no host key at boot: a guest without one gets a key banger makes,
 * through the agent, before banger first reads it.
 */
import type { Duplex, Readable } from 'node:stream';
import { BangerError, sleep, type Logger } from '../base/index.js';
import type { Layout } from '../config/index.js';
import {
  ensureInstallKey,
  generateSshHostKey,
  KnownHosts,
  parseSshPublicKey,
  type HostKeyCheck,
  type InstallKey,
  type SshPublicKey,
} from '../guest/index.js';
import { RestorePart, type SshPrepareResult } from '../protocol/index.js';
import type { VmRecord } from '../store/index.js';
import type { AgentSession, VmLifecycleHooks } from './ports.js';

const GUEST_HOST_KEY = '/etc/ssh/ssh_host_ed25519_key.pub';
/** How long a key file being written (or a port 22 not yet listening) is waited for. */
const SSHD_WAIT_MS = 20_000;
const RETRY_MS = 200;

export class SshAccess {
  readonly knownHosts: KnownHosts;
  private key: Promise<InstallKey> | undefined;

  constructor(private readonly deps: { layout: Layout; logger: Logger }) {
    this.knownHosts = new KnownHosts(deps.layout.sshKnownHostsFile);
  }

  /** `<name>.vm`: the name ssh and known_hosts know the VM by. */
  static alias(vm: VmRecord): string {
    return `${vm.name}.vm`;
  }

  /** The install key, made on first use (a failure is retried next time). */
  installKey(options: { signal?: AbortSignal } = {}): Promise<InstallKey> {
    this.key ??= ensureInstallKey({ keyFile: this.deps.layout.sshKeyFile, signal: options.signal });
    const key = this.key;
    key.catch(() => {
      if (this.key === key) this.key = undefined;
    });
    return key;
  }

  /** Hooks into every VM's life: the key at boot, known_hosts cleanup at delete. */
  hooks(): VmLifecycleHooks {
    return {
      kernelArgs: async () => {
        try {
          const { publicKey } = await this.installKey();
          return [`banger.ssh_key=${publicKey.type},${publicKey.blob}`];
        } catch (err) {
          // A VM without SSH still boots; `vm ssh` reports the reason.
          this.deps.logger.warn('no SSH key for the guest', { error: errorText(err) });
          return [];
        }
      },
      // banger made this key and gave it to the restored guest: pin it, whatever came before.
      restored: async (vm, identity) => {
        if (identity.sshHostKey === undefined) return;
        await this.knownHosts.pin({ alias: SshAccess.alias(vm), key: identity.sshHostKey });
        this.deps.logger.info('pinned the SSH host key of a restored VM', { vm: vm.name });
      },
      deleted: async (vm) => {
        if (await this.knownHosts.remove(SshAccess.alias(vm))) {
          this.deps.logger.info('forgot the SSH host key', { vm: vm.name });
        }
      },
    };
  }

  /**
   * Reads the guest's host key through the agent and checks it against known_hosts (pinning
   * it on first use). 'conflict' names the VM when the key changed.
   */
  async verifyHostKey(
    vm: VmRecord,
    agent: AgentSession,
    options: { signal?: AbortSignal } = {},
  ): Promise<HostKeyCheck> {
    const key = await this.guestHostKey(vm, agent, options.signal);
    return this.knownHosts.check({ alias: SshAccess.alias(vm), vmName: vm.name, key });
  }

  /** Everything `vm ssh` needs before it runs OpenSSH; the host key is verified now. */
  async prepare(
    vm: VmRecord,
    agent: AgentSession,
    options: { signal?: AbortSignal } = {},
  ): Promise<SshPrepareResult> {
    const key = await this.installKey(options);
    const check = await this.verifyHostKey(vm, agent, options);
    return {
      vm: vm.name,
      hostKeyAlias: SshAccess.alias(vm),
      identityFile: key.privateKeyFile,
      knownHostsFile: this.knownHosts.file,
      hostKey: check.status,
      fingerprint: check.fingerprint,
    };
  }

  /**
   * A connection to the guest's sshd (port 22 on its loopback), after the host key check.
   * Waits while sshd is still starting (first boot).
   */
  async connect(
    vm: VmRecord,
    agent: AgentSession,
    options: { signal?: AbortSignal } = {},
  ): Promise<Duplex> {
    await this.verifyHostKey(vm, agent, options);
    const deadline = Date.now() + SSHD_WAIT_MS;
    for (;;) {
      try {
        return await agent.openTcp(22, options.signal ? { signal: options.signal } : {});
      } catch (err) {
        const refused =
          err instanceof BangerError &&
          err.code === 'unavailable' &&
          err.details?.errno === 'ECONNREFUSED';
        if (!refused || Date.now() > deadline || options.signal?.aborted) {
          if (refused) {
            throw new BangerError('unavailable', `sshd is not listening in VM ${vm.name}`, {
              hint: `see its console log (banger vm logs ${vm.name}); is openssh-server in the image?`,
              cause: err,
            });
          }
          throw err;
        }
        await sleep(RETRY_MS);
      }
    }
  }

  private async guestHostKey(
    vm: VmRecord,
    agent: AgentSession,
    signal: AbortSignal | undefined,
  ): Promise<SshPublicKey> {
    const deadline = Date.now() + SSHD_WAIT_MS;
    let gaveKey = false;
    for (;;) {
      const exec = await agent.exec({ argv: ['cat', GUEST_HOST_KEY] });
      exec.stdin.end();
      exec.stderr.resume();
      const [text, exit] = await Promise.all([readSmall(exec.stdout, 16_384), exec.exit]);
      if (exit.kind !== 'exited' || exit.code !== 0) {
        // No key yet (sshd makes one only on its first connection): banger gives it one.
        if (!gaveKey && (await this.giveHostKey(vm, agent))) {
          gaveKey = true;
          continue;
        }
        throw new BangerError(
          'precondition_failed',
          `VM ${vm.name} has no SSH host key (${GUEST_HOST_KEY})`,
          {
            hint: `the image needs openssh-server (/usr/sbin/sshd and /etc/ssh); see banger vm logs ${vm.name}`,
          },
        );
      }
      try {
        return parseSshPublicKey(text, `the SSH host key of VM ${vm.name}`);
      } catch (err) {
        // A key file being written right now reads short: try again until the deadline.
        if (Date.now() > deadline || signal?.aborted) throw err;
      }
      await sleep(RETRY_MS);
    }
  }

  /**
   * A guest without a host key yet gets one banger makes (native speed, where ssh-keygen in
   * the guest costs emulated seconds), written through the agent as a restored guest's is.
   * The caller reads it back, so a key the guest made meanwhile wins. False when the guest
   * cannot take one (no /etc/ssh, or an agent without capability `restore`).
   */
  private async giveHostKey(vm: VmRecord, agent: AgentSession): Promise<boolean> {
    if (agent.restore === undefined || !(agent.capabilities ?? []).includes('restore')) {
      return false;
    }
    const key = generateSshHostKey();
    const done = await agent.restore(
      { sshHostKey: { privateKey: key.privateKey, publicKey: key.publicLine } },
      { timeoutMs: 15_000 },
    );
    const given = (done.applied & RestorePart.sshHostKey) !== 0;
    if (given) this.deps.logger.info('gave the VM an SSH host key', { vm: vm.name });
    else if (done.failed !== 0) {
      this.deps.logger.warn('could not give the VM an SSH host key', {
        vm: vm.name,
        failures: done.failures,
      });
    }
    return given;
  }
}

/** Reads a stream to its end, keeping at most `max` bytes (the rest is drained). */
function readSmall(stream: Readable, max: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size < max) chunks.push(chunk.subarray(0, max - size));
      size += chunk.length;
    });
    const done = (): void => resolve(Buffer.concat(chunks).toString('utf8'));
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
