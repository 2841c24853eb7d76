/**
 * Calls the lifecycle hooks of every part that follows VMs (ssh keys, forwards, network,
 * DNS, file_sync) in registration order. A failing hook is logged (and, for `booted`, shown
 * to the caller) and never fails the lifecycle step it follows: the VM is already up.
 */
import type { Logger } from '../base/index.js';
import type { VmRecord } from '../store/index.js';
import type { AgentSession, BootContext, VmLifecycleHooks } from './ports.js';

export class VmHooks {
  constructor(
    private readonly hooks: readonly VmLifecycleHooks[],
    private readonly logger: Logger,
  ) {}

  /** Extra kernel arguments for one boot, from every part that has some. */
  async kernelArgs(vm: VmRecord): Promise<string[]> {
    const args: string[] = [];
    for (const hooks of this.hooks) args.push(...((await hooks.kernelArgs?.(vm)) ?? []));
    return args;
  }

  async started(vm: VmRecord, agent: AgentSession): Promise<void> {
    await this.each('started', vm, (hooks) => hooks.started?.(vm, agent));
  }

  async stopped(vm: VmRecord): Promise<void> {
    await this.each('stopped', vm, (hooks) => hooks.stopped?.(vm));
  }

  async deleted(vm: VmRecord): Promise<void> {
    await this.each('deleted', vm, (hooks) => hooks.deleted?.(vm));
  }

  async restored(
    vm: VmRecord,
    identity: { sshHostKey?: { type: string; blob: string } | undefined },
  ): Promise<void> {
    await this.each('restored', vm, (hooks) => hooks.restored?.(vm, identity));
  }

  /** `booted` failures are also shown to the caller as a warning. */
  async booted(vm: VmRecord, agent: AgentSession, ctx: BootContext): Promise<void> {
    await this.each(
      'booted',
      vm,
      (hooks) => hooks.booted?.(vm, agent, ctx),
      (message) => ctx.notice?.(`banger: warning: ${message}`),
    );
  }

  private async each(
    which: string,
    vm: VmRecord,
    call: (hooks: VmLifecycleHooks) => Promise<void> | void,
    tell?: (message: string) => void,
  ): Promise<void> {
    for (const hooks of this.hooks) {
      try {
        await call(hooks);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.logger.warn(`vm ${which} hook failed`, { vm: vm.name, error: message });
        tell?.(message);
      }
    }
  }
}
