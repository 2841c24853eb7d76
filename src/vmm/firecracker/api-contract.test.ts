/**
 * Contract tests: every request the Firecracker client can send is checked against the
 * vendored spec by an independent oracle (scripts/lib/swagger-check.mjs reading the YAML
 * itself, sharing no code with the client), byte-level framing included; and answers that
 * are not the shape the spec describes are refused with a clear error.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkRequest,
  checkSchema,
  type SwaggerSpec,
} from '../../../scripts/lib/swagger-check.mjs';
import { parseYaml } from '../../../scripts/lib/yaml-subset.mjs';
import type { VmLaunchSpec } from '../../protocol/index.js';
import { FirecrackerApiClient } from './api-client.js';
import { bootRequests, restoreRequests } from './boot-requests.js';
import { firecrackerVmLayout, type FirecrackerHostInfo } from './launch-plan.js';

const REPO = path.resolve(import.meta.dirname, '..', '..', '..');
const SPEC = parseYaml(
  readFileSync(path.join(REPO, 'vendor', 'firecracker', 'firecracker-api.yaml'), 'utf8'),
) as SwaggerSpec;

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Reply = { status: number; body?: unknown; raw?: string };

let dir: string;
let server: http.Server;
let socket: string;
const seen: Seen[] = [];
let replyFor: (req: Seen) => Reply = defaultReply;

function defaultReply(req: Seen): Reply {
  if (req.method === 'GET' && req.path === '/')
    return {
      status: 200,
      body: {
        id: 'banger-0123456789ab',
        state: 'Running',
        vmm_version: '1.7.0',
        app_name: 'Firecracker',
      },
    };
  if (req.method === 'GET' && req.path === '/version')
    return { status: 200, body: { firecracker_version: '1.7.0' } };
  if (req.method === 'GET' && req.path === '/vm/config')
    return { status: 200, body: { 'machine-config': { vcpu_count: 2, mem_size_mib: 512 } } };
  return { status: 204 };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bgfc-'));
  socket = path.join(dir, 'api.sock');
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      const reply = replyFor(entry);
      const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, text === '' ? {} : { 'Content-Type': 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const spec: VmLaunchSpec = {
  vmId: '0123456789ab',
  vcpus: 2,
  memoryMib: 512,
  accel: 'kvm',
  boot: { kernelPath: '/k/vmlinux', initrdPath: '/k/initrd', args: ['root=/dev/vda', 'rw'] },
  disks: [
    { id: 'root', path: '/vms/a/root.img', format: 'raw', readOnly: false },
    { id: 'work', path: '/vms/a/work.img', format: 'raw', readOnly: false },
    { id: 'seed', path: '/img/seed.img', format: 'raw', readOnly: true },
  ],
  nics: [
    { tap: 'bgtap0', mac: '02:00:00:00:00:01' },
    { tap: 'bgtap1', mac: '02:00:00:00:00:02' },
  ],
  runDir: '/run/banger/vms/0123456789ab',
  consoleLogPath: '/vms/a/console.log',
  vmmLogPath: '/vms/a/vmm.log',
};
const hosts: Record<string, FirecrackerHostInfo> = {
  plain: { firecrackerBinary: '/usr/bin/firecracker' },
  jailed: {
    firecrackerBinary: '/usr/bin/firecracker',
    jailer: {
      jailerBinary: '/usr/bin/jailer',
      chrootBaseDir: '/srv/jail',
      uid: 1000,
      gid: 1000,
      cgroupVersion: 2,
    },
  },
};

/** Runs `fn`, then checks every request it made against the spec and returns them. */
async function conforming(fn: (client: FirecrackerApiClient) => Promise<unknown>): Promise<Seen[]> {
  const from = seen.length;
  await fn(new FirecrackerApiClient(socket));
  const made = seen.slice(from);
  for (const req of made) {
    // Firecracker's HTTP server reads bodies by Content-Length only (no chunked encoding).
    expect(req.headers['transfer-encoding']).toBeUndefined();
    if (req.body !== '') {
      expect(req.headers['content-type']).toBe('application/json');
      expect(Number(req.headers['content-length'])).toBe(Buffer.byteLength(req.body));
    }
    const errors = checkRequest(SPEC, {
      method: req.method,
      path: req.path,
      ...(req.body === '' ? {} : { body: JSON.parse(req.body) as unknown }),
      contentType: req.headers['content-type'] ?? 'application/json',
    });
    expect(errors, `${req.method} ${req.path} ${req.body}`).toEqual([]);
  }
  return made;
}

describe('every request the client sends conforms to the Firecracker spec', () => {
  for (const [name, host] of Object.entries(hosts)) {
    it(`the boot sequence (${name}): machine config, boot source, drives, network, vsock, logger, metrics, start`, async () => {
      const layout = firecrackerVmLayout(spec, host);
      const made = await conforming(async (client) => {
        for (const r of bootRequests(spec, layout)) await client.call(r.operation, r.input);
      });
      expect(made.map((r) => `${r.method} ${r.path}`)).toEqual([
        'PUT /logger',
        'PUT /metrics',
        'PUT /machine-config',
        'PUT /boot-source',
        'PUT /drives/root',
        'PUT /drives/work',
        'PUT /drives/seed',
        'PUT /network-interfaces/eth0',
        'PUT /network-interfaces/eth1',
        'PUT /vsock',
        'PUT /entropy',
        'PUT /actions',
      ]);
      const body = (i: number): Record<string, unknown> =>
        JSON.parse(made[i]!.body) as Record<string, unknown>;
      expect(body(2)).toEqual({ vcpu_count: 2, mem_size_mib: 512, smt: false });
      expect(body(3).boot_args).toBe(
        'console=ttyS0 reboot=k panic=-1 pci=off quiet cryptomgr.notests=1 banger.transport=vsock banger.poweroff=reboot root=/dev/vda rw',
      );
      expect(body(4)).toEqual({
        drive_id: 'root',
        path_on_host: layout.inVmm.drives[0]!.path,
        is_root_device: true,
        is_read_only: false,
      });
      expect(body(6)).toMatchObject({ is_root_device: false, is_read_only: true });
      expect(body(8)).toEqual({
        iface_id: 'eth1',
        host_dev_name: 'bgtap1',
        guest_mac: '02:00:00:00:00:02',
      });
      expect(body(9)).toEqual({ guest_cid: 3, uds_path: layout.inVmm.vsockSocket });
      expect(body(11)).toEqual({ action_type: 'InstanceStart' });
    });

    it(`a restore from a snapshot (${name})`, async () => {
      const layout = firecrackerVmLayout(spec, host);
      const made = await conforming(async (client) => {
        const files = { statePath: '/snapshot.vmstate', memoryPath: '/snapshot.mem' };
        for (const r of restoreRequests(layout, files, { resume: true }))
          await client.call(r.operation, r.input);
      });
      expect(made.map((r) => `${r.method} ${r.path}`)).toEqual([
        'PUT /logger',
        'PUT /metrics',
        'PUT /snapshot/load',
      ]);
      expect(JSON.parse(made[2]!.body)).toEqual({
        snapshot_path: '/snapshot.vmstate',
        mem_backend: { backend_type: 'File', backend_path: '/snapshot.mem' },
        resume_vm: true,
      });
    });
  }

  it('pause, resume, snapshot create and load, Ctrl-Alt-Del, metrics flush and the GETs', async () => {
    const made = await conforming(async (client) => {
      await client.setVmState('Paused');
      await client.setVmState('Resumed');
      await client.createSnapshot({
        snapshot_type: 'Full',
        snapshot_path: '/snapshot.vmstate',
        mem_file_path: '/snapshot.mem',
      });
      await client.loadSnapshot({
        snapshot_path: '/s',
        mem_backend: { backend_type: 'File', backend_path: '/m' },
      });
      await client.action('SendCtrlAltDel');
      await client.action('FlushMetrics');
      expect((await client.describeInstance()).state).toBe('Running');
      expect((await client.version()).firecracker_version).toBe('1.7.0');
      expect((await client.vmConfig())['machine-config']?.vcpu_count).toBe(2);
    });
    expect(made.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PATCH /vm',
      'PATCH /vm',
      'PUT /snapshot/create',
      'PUT /snapshot/load',
      'PUT /actions',
      'PUT /actions',
      'GET /',
      'GET /version',
      'GET /vm/config',
    ]);
  });

  it('path parameters are escaped, and body and path ids agree', async () => {
    const made = await conforming((client) =>
      client.putDrive({
        drive_id: 'a_1',
        path_on_host: '/x',
        is_root_device: false,
        is_read_only: true,
      }),
    );
    expect(made[0]!.path).toBe('/drives/a_1');
  });
});

describe('the oracle is not vacuous', () => {
  it('refuses missing required fields, unknown fields, wrong types, bad enums and paths', () => {
    expect(
      checkRequest(SPEC, { method: 'PUT', path: '/drives/root', body: { drive_id: 'root' } }),
    ).toEqual(['body.is_root_device is required']);
    expect(
      checkRequest(SPEC, {
        method: 'PUT',
        path: '/vsock',
        body: { guest_cid: 3, uds_path: '/v', extra: 1 },
      }),
    ).toEqual(['body.extra is not a property of the schema']);
    expect(
      checkRequest(SPEC, { method: 'PUT', path: '/vsock', body: { guest_cid: 2, uds_path: '/v' } }),
    ).toEqual(['body.guest_cid must be >= 3']);
    expect(
      checkRequest(SPEC, { method: 'PATCH', path: '/vm', body: { state: 'Stopped' } })[0],
    ).toMatch(/must be one of "Paused", "Resumed"/);
    expect(checkRequest(SPEC, { method: 'DELETE', path: '/vm' })).toEqual([
      'DELETE is not allowed on /vm',
    ]);
    expect(checkRequest(SPEC, { method: 'GET', path: '/nope' })).toEqual([
      'no path of the spec matches /nope',
    ]);
    expect(
      checkSchema(
        SPEC,
        { $ref: '#/definitions/MachineConfiguration' },
        { vcpu_count: 33, mem_size_mib: 1 },
        'm',
        true,
      ),
    ).toEqual(['m.vcpu_count must be <= 32']);
  });
});

describe('answers that do not match the spec are refused', () => {
  const withReply = async (
    reply: Reply,
    fn: (c: FirecrackerApiClient) => Promise<unknown>,
  ): Promise<unknown> => {
    replyFor = () => reply;
    try {
      return await fn(new FirecrackerApiClient(socket));
    } finally {
      replyFor = defaultReply;
    }
  };

  it('a 4xx becomes an error carrying the fault_message', async () => {
    const err = await withReply(
      { status: 400, body: { fault_message: 'Unable to open the kernel image: No such file' } },
      (c) => c.putBootSource({ kernel_image_path: '/nope' }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'operation_failed',
      message:
        'firecracker refused PUT /boot-source (400): Unable to open the kernel image: No such file',
      details: { faultMessage: 'Unable to open the kernel image: No such file', status: 400 },
    });
  });

  it('an instance description missing fields or with an unknown state', async () => {
    await expect(
      withReply({ status: 200, body: { id: 'x' } }, (c) => c.describeInstance()),
    ).rejects.toThrow(/unknown response \(status 200\): .*InstanceInfo.state is required/);
    await expect(
      withReply(
        {
          status: 200,
          body: { id: 'x', state: 'Exploded', vmm_version: '1', app_name: 'Firecracker' },
        },
        (c) => c.describeInstance(),
      ),
    ).rejects.toThrow(/InstanceInfo.state must be one of "Not started", "Running", "Paused"/);
  });

  it('a status the spec does not list, a non-JSON error', async () => {
    await expect(
      withReply({ status: 200, body: { ok: true } }, (c) => c.action('InstanceStart')),
    ).rejects.toThrow(/does not list this status/);
    await expect(
      withReply({ status: 500, raw: '<html>' }, (c) => c.action('InstanceStart')),
    ).rejects.toThrow(/body is not JSON/);
  });

  it('accepts fields a newer Firecracker adds to an answer', async () => {
    const info = await withReply(
      {
        status: 200,
        body: {
          id: 'x',
          state: 'Paused',
          vmm_version: '1.18.0',
          app_name: 'Firecracker',
          new_field: 1,
        },
      },
      (c) => c.describeInstance(),
    );
    expect(info).toMatchObject({ state: 'Paused' });
  });

  it('the client refuses to send a body the spec forbids, before any byte leaves', async () => {
    const before = seen.length;
    await expect(
      new FirecrackerApiClient(socket).putMachineConfig({ vcpu_count: 0, mem_size_mib: 128 }),
    ).rejects.toThrow(/refusing to send PUT \/machine-config: body.vcpu_count must be at least 1/);
    expect(seen.length).toBe(before);
  });

  it('a socket nobody listens on is "unavailable"', async () => {
    await expect(
      new FirecrackerApiClient(path.join(dir, 'missing.sock')).version(),
    ).rejects.toMatchObject({
      code: 'unavailable',
    });
  });
});
