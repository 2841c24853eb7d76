/**
 * The boot of a Firecracker VM as a list of named API requests, built purely from the spec
 * and its layout: logger, metrics, machine config, boot source, drives, network interfaces,
 * vsock, entropy, then InstanceStart. A restore is logger, metrics, snapshot load. Each
 * entry names its step so a failure says where the boot stopped.
 */
import type { VmLaunchSpec } from '../../protocol/index.js';
import type { OperationInput } from './api-client.js';
import type { FirecrackerOperationId } from './generated/api-types.js';
import { GUEST_CID, firecrackerKernelArgs, type FirecrackerVmLayout } from './launch-plan.js';

export interface BootRequest<K extends FirecrackerOperationId = FirecrackerOperationId> {
  /** "machine-config", "drive root", "start"... */
  step: string;
  operation: K;
  input: OperationInput<K>;
}

function request<K extends FirecrackerOperationId>(
  step: string,
  operation: K,
  input: OperationInput<K>,
): BootRequest {
  return { step, operation, input } as unknown as BootRequest;
}

/** Logging first, so Firecracker's own account of every later step lands in its log. */
function observability(layout: FirecrackerVmLayout): BootRequest[] {
  return [
    request('logger', 'putLogger', {
      body: {
        log_path: layout.inVmm.logFile,
        level: 'Info',
        show_level: true,
        show_log_origin: false,
      },
    }),
    request('metrics', 'putMetrics', { body: { metrics_path: layout.inVmm.metricsFile } }),
  ];
}

export function bootRequests(spec: VmLaunchSpec, layout: FirecrackerVmLayout): BootRequest[] {
  const out = observability(layout);
  out.push(
    request('machine-config', 'putMachineConfiguration', {
      body: { vcpu_count: spec.vcpus, mem_size_mib: spec.memoryMib, smt: false },
    }),
  );
  const bootSource: { kernel_image_path: string; boot_args: string; initrd_path?: string } = {
    kernel_image_path: layout.inVmm.kernel,
    boot_args: firecrackerKernelArgs(spec).join(' '),
  };
  if (layout.inVmm.initrd !== undefined) bootSource.initrd_path = layout.inVmm.initrd;
  out.push(request('boot-source', 'putGuestBootSource', { body: bootSource }));
  layout.inVmm.drives.forEach((drive, i) => {
    out.push(
      request(`drive ${drive.id}`, 'putGuestDriveByID', {
        pathParams: { drive_id: drive.id },
        body: {
          drive_id: drive.id,
          path_on_host: drive.path,
          // The first disk is the root filesystem (/dev/vda), as on every backend.
          is_root_device: i === 0,
          is_read_only: drive.readOnly,
        },
      }),
    );
  });
  spec.nics.forEach((nic, i) => {
    const id = `eth${String(i)}`;
    out.push(
      request(`network-interface ${id}`, 'putGuestNetworkInterfaceByID', {
        pathParams: { iface_id: id },
        body: { iface_id: id, host_dev_name: nic.tap, guest_mac: nic.mac },
      }),
    );
  });
  out.push(
    request('vsock', 'putGuestVsock', {
      body: { guest_cid: GUEST_CID, uds_path: layout.inVmm.vsockSocket },
    }),
    // Entropy from the host: the guest's RNG is ready at once (virtio-rng, as under QEMU).
    request('entropy', 'putEntropyDevice', { body: {} }),
    request('start', 'createSyncAction', { body: { action_type: 'InstanceStart' } }),
  );
  return out;
}

/** Paths of a saved VM as Firecracker reads them (inside the jail when jailed). */
export interface SnapshotFiles {
  statePath: string;
  memoryPath: string;
}

export function restoreRequests(
  layout: FirecrackerVmLayout,
  snapshot: SnapshotFiles,
  options: { resume: boolean },
): BootRequest[] {
  return [
    ...observability(layout),
    request('snapshot-load', 'loadSnapshot', {
      body: {
        snapshot_path: snapshot.statePath,
        mem_backend: { backend_type: 'File', backend_path: snapshot.memoryPath },
        resume_vm: options.resume,
      },
    }),
  ];
}
