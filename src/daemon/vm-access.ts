/**
 * RPC methods that reach into a running VM from the host, and the lifecycle hooks that keep
 * them tidy: `vm.forward` (a host TCP port into a guest port), `vm.ports` (listening guest
 * ports and their host endpoints), `vm.ssh-prepare` and `vm.ssh-proxy` (OpenSSH through the
 * agent channel). Forwards end with their VM; `vm.show` lists them.
 */
import type { Duplex } from 'node:stream';
import { BangerError } from '../base/index.js';
import type { RpcCall } from '../ipc/index.js';
import {
  parseVmForwardParams,
  parseVmRefParams,
  type ForwardInfo,
  type GuestPortInfo,
  type VmInfo,
  type VmPortsResult,
} from '../protocol/index.js';
import type { ActiveForward, PortForwarder } from './port-forwards.js';
import type { VmLifecycleHooks } from './ports.js';
import type { SshAccess } from './ssh-access.js';
import type { Handler } from './vm-handlers.js';
import type { VmService } from './vm-service.js';

export interface VmAccessDeps {
  vms: VmService;
  forwarder: PortForwarder;
  ssh: SshAccess;
  /** The plain `vm.show` (vmHandlers'): its answer gets the VM's forwards added. */
  show?: Handler | undefined;
}

/** Lifecycle hooks of this part: SSH key at boot, known_hosts cleanup, forwards end with the VM. */
export function vmAccessHooks(deps: Pick<VmAccessDeps, 'forwarder' | 'ssh'>): VmLifecycleHooks[] {
  return [deps.ssh.hooks(), { stopped: (vm) => deps.forwarder.stopAll(vm.id) }];
}

export function toForwardInfo(forward: ActiveForward): ForwardInfo {
  return {
    origin: forward.origin,
    hostAddress: forward.hostAddress,
    hostPort: forward.hostPort,
    guestPort: forward.guestPort,
    endpoint: forward.address,
  };
}

export function vmAccessHandlers(deps: VmAccessDeps): Record<string, Handler> {
  const { vms, forwarder, ssh, show } = deps;
  const withForwards = (info: VmInfo): VmInfo => {
    const forwards = forwarder.list(info.id).map(toForwardInfo);
    return forwards.length > 0 ? { ...info, forwards } : info;
  };
  return {
    // Takes the place of the plain vm.show: the same answer, with the VM's forwards.
    'vm.show': async (call) =>
      withForwards(
        show ? ((await show(call)) as VmInfo) : vms.show(parseVmRefParams(call.params).ref),
      ),
    'vm.forward': async (call) => {
      const params = parseVmForwardParams(call.params);
      const { vm, agent } = vms.liveAgent(params.ref);
      const forward = await forwarder.startForward({
        vmId: vm.id,
        agent,
        hostAddress: params.hostAddress ?? '127.0.0.1',
        hostPort: params.hostPort,
        guestPort: params.guestPort,
        origin: 'explicit',
      });
      return toForwardInfo(forward);
    },
    'vm.ports': async (call): Promise<VmPortsResult> => {
      const { vm, agent } = vms.liveAgent(parseVmRefParams(call.params).ref);
      const listening = await agent.listPorts({ signal: call.signal });
      const forwards = forwarder.list(vm.id).map(toForwardInfo);
      const ports: GuestPortInfo[] = listening.map((port) => {
        const info: GuestPortInfo = {
          family: port.family,
          address: port.address,
          port: port.port,
          endpoints: forwards.filter((f) => f.guestPort === port.port).map((f) => f.endpoint),
        };
        if (port.process !== undefined) info.process = port.process;
        if (port.pid !== undefined) info.pid = port.pid;
        return info;
      });
      return { vm: vm.name, ports, forwards };
    },
    'vm.ssh-prepare': async (call) => {
      const { vm, agent } = vms.liveAgent(parseVmRefParams(call.params).ref);
      return ssh.prepare(vm, agent, { signal: call.signal });
    },
    'vm.ssh-proxy': async (call) => {
      const { vm, agent } = vms.liveAgent(parseVmRefParams(call.params).ref);
      const tcp = await ssh.connect(vm, agent, { signal: call.signal });
      await relay(call, tcp);
      return null;
    },
  };
}

/** Pipes the call's stdin into the connection and the connection into the call's stdout. */
function relay(call: RpcCall, tcp: Duplex): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      call.signal.removeEventListener('abort', onAbort);
      call.stdin.unpipe(tcp);
      if (err) {
        tcp.destroy();
        reject(err);
      } else resolve();
    };
    const onAbort = (): void => {
      tcp.destroy();
      done();
    };
    call.signal.addEventListener('abort', onAbort, { once: true });
    // The client's EOF half-closes towards sshd; sshd's FIN ends the call.
    call.stdin.pipe(tcp);
    tcp.on('data', (chunk: Buffer) => {
      if (!call.stdout.write(chunk)) {
        tcp.pause();
        call.stdout.once('drain', () => tcp.resume());
      }
    });
    tcp.once('end', () => done());
    tcp.once('error', (err) =>
      done(
        err instanceof BangerError
          ? err
          : new BangerError('unavailable', `the SSH connection broke: ${err.message}`),
      ),
    );
    tcp.once('close', () => done());
  });
}
