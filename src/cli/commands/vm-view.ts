/** How VMs are shown in tables and detail views. */
import type { VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { ago, humanBytes, renderTable } from '../render.js';

export function vmTable(vms: VmInfo[]): string {
  return renderTable(
    ['NAME', 'ID', 'STATE', 'IMAGE', 'VCPU', 'MEMORY', 'DISK', 'CREATED'],
    vms.map((vm) => [
      vm.name,
      vm.id,
      vm.state,
      vm.image,
      String(vm.vcpu),
      `${String(vm.memoryMib)} MiB`,
      humanBytes(vm.diskBytes),
      ago(vm.createdAt),
    ]),
  );
}

export function printVm(ctx: CliContext, vm: VmInfo): void {
  const lines = [
    `name:     ${vm.name}`,
    `id:       ${vm.id}`,
    `state:    ${vm.state}`,
    `image:    ${vm.image}`,
    `kernel:   ${vm.kernel}`,
    `backend:  ${vm.backend}`,
    `vcpu:     ${String(vm.vcpu)}`,
    `memory:   ${String(vm.memoryMib)} MiB`,
    `disk:     ${humanBytes(vm.diskBytes)}`,
    `created:  ${vm.createdAt}`,
    `started:  ${vm.startedAt ?? '-'}`,
    `stopped:  ${vm.stoppedAt ?? '-'}`,
    `pid:      ${vm.pid === null ? '-' : String(vm.pid)}`,
    `boot id:  ${vm.bootId ?? '-'}`,
  ];
  if (vm.lastError) lines.push(`error:    ${vm.lastError}`);
  for (const forward of vm.forwards ?? []) {
    lines.push(
      `forward:  ${forward.endpoint} -> guest port ${String(forward.guestPort)} (${forward.origin})`,
    );
  }
  ctx.stdout.write(lines.join('\n') + '\n');
}
