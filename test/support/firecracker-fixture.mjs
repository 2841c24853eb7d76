#!/usr/bin/env node
// A stand-in for the `firecracker` binary, for tests on machines that cannot run the real one
// (no KVM). Started through banger's real launch path, it parses firecracker's command line,
// serves the API socket as the vendored spec describes, checks every request against that
// spec (method, path, body: unknown fields refused, as Firecracker does), emulates the VM's
// state machine and files (kernel, drives, logger, metrics, snapshots, the vsock UDS with its
// CONNECT handshake) and answers with recorded response bodies, themselves checked against
// the spec. It does not run a guest: on a vsock CONNECT to port 1024 it can start the real
// banger-agent (on this host) and splice the two streams together.
//
// Test control: BANGER_FC_FIXTURE_DIR names a directory where
//   <id>.json            (optional) a scenario: see `Scenario` below
//   <id>.requests.jsonl  is appended: one line per request {method, path, body, status, errors}
//   <id>.events.jsonl    is appended: started, listening, exit...
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { promises as fs, constants as fsc } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkRequest,
  checkResponse,
  findOperation,
  pathExists,
} from '../../scripts/lib/swagger-check.mjs';
import { parseYaml } from '../../scripts/lib/yaml-subset.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const SPEC = parseYaml(
  readFileSync(path.join(REPO, 'vendor', 'firecracker', 'firecracker-api.yaml'), 'utf8'),
);
const RECORDED = JSON.parse(
  readFileSync(path.join(HERE, 'firecracker', 'recorded-responses.json'), 'utf8'),
);

/**
 * @typedef {object} Scenario
 * @property {string} [version]            what the VMM reports (default 1.7.0)
 * @property {{code: number, stderr: string}} [exitBeforeSocket]  die at start-up
 * @property {boolean} [noSocket]           never create the API socket (hang until killed)
 * @property {Record<string, {status: number, fault_message: string}>} [faults]  by "PUT /drives/root"
 * @property {string} [exitOn]              exit(1) when this request ("PUT /actions") arrives
 * @property {Record<string, {status: number, body?: unknown, raw?: string}>} [responses]  raw overrides
 * @property {'exit'|'ignore'} [ctrlAltDel] what the "guest" does on SendCtrlAltDel (default exit)
 * @property {string} [guestAgent]          banger-agent binary to serve vsock port 1024
 */

const PRE_BOOT_ONLY = new Set([
  'putMachineConfiguration',
  'patchMachineConfiguration',
  'putGuestBootSource',
  'putGuestDriveByID',
  'putGuestNetworkInterfaceByID',
  'putGuestVsock',
  'putEntropyDevice',
  'putBalloon',
  'putCpuConfiguration',
  'putMmdsConfig',
  'putLogger',
  'putMetrics',
  'loadSnapshot',
]);

const FIRECRACKER_FLAGS = new Map([
  ['--api-sock', true],
  ['--id', true],
  ['--start-time-us', true],
  ['--start-time-cpu-us', true],
  ['--parent-cpu-time-us', true],
  ['--level', true],
  ['--log-path', true],
  ['--metrics-path', true],
  ['--config-file', true],
  ['--http-api-max-payload-size', true],
  ['--mmds-size-limit', true],
  ['--module', true],
  ['--seccomp-filter', true],
  ['--boot-timer', false],
  ['--no-seccomp', false],
  ['--no-api', false],
  ['--show-level', false],
  ['--show-log-origin', false],
  ['--version', false],
]);

function die(code, message) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** Parses firecracker's argv (`--flag value` and `--flag=value`), as its clap parser would. */
export function parseFirecrackerArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!FIRECRACKER_FLAGS.has(flag))
      die(1, `Arguments parsing error: Found argument '${a}' which wasn't expected.`);
    if (FIRECRACKER_FLAGS.get(flag)) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) die(1, `Arguments parsing error: '${flag}' needs a value.`);
      if (out[flag] !== undefined) die(1, `Arguments parsing error: '${flag}' was given twice.`);
      out[flag] = value;
    } else {
      out[flag] = true;
    }
  }
  return out;
}

/**
 * Runs the emulated Firecracker. `root` is the chroot (when started by the fake jailer): every
 * path Firecracker is given is resolved inside it, as a jailed Firecracker sees it.
 */
export async function runFirecracker(argv, root = '') {
  const args = parseFirecrackerArgs(argv);
  const id = args['--id'] ?? 'anonymous-instance';
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) die(1, `Invalid instance ID: ${id}`);
  const fixtureDir = process.env.BANGER_FC_FIXTURE_DIR;
  /** @type {Scenario} */
  const scenario =
    fixtureDir && existsSync(path.join(fixtureDir, `${id}.json`))
      ? JSON.parse(readFileSync(path.join(fixtureDir, `${id}.json`), 'utf8'))
      : {};
  const version = scenario.version ?? '1.7.0';
  if (args['--version']) {
    process.stdout.write(`Firecracker v${version}\n\nSupported snapshot versions: v4.0.0\n`);
    process.exit(0);
  }
  const event = (what, extra = {}) => {
    if (!fixtureDir) return;
    appendFileSync(
      path.join(fixtureDir, `${id}.events.jsonl`),
      `${JSON.stringify({ what, pid: process.pid, uid: process.getuid(), ...extra })}\n`,
    );
  };
  const inVm = (p) => (root === '' ? p : path.join(root, p));
  event('started', { argv, root });

  if (scenario.exitBeforeSocket) {
    event('exit', { code: scenario.exitBeforeSocket.code });
    die(scenario.exitBeforeSocket.code, scenario.exitBeforeSocket.stderr);
  }
  const apiSock = args['--api-sock'] ?? '/run/firecracker.socket';
  if (scenario.noSocket) {
    event('hanging');
    setInterval(() => undefined, 1 << 30);
    return;
  }

  const vm = {
    state: 'Not started',
    configured: new Set(),
    machine: {
      vcpu_count: 1,
      mem_size_mib: 128,
      smt: false,
      track_dirty_pages: false,
      huge_pages: 'None',
    },
    boot: undefined,
    drives: new Map(),
    nics: new Map(),
    vsock: undefined,
    logger: undefined,
    metrics: undefined,
    vsockServer: undefined,
  };
  const log = async (line) => {
    if (vm.logger)
      await fs
        .appendFile(inVm(vm.logger.log_path), `[${id}:main] ${line}\n`)
        .catch(() => undefined);
  };
  const fault = (status, message) => ({ status, body: { fault_message: message } });
  const mustBeFile = async (p, what, write) => {
    try {
      const st = await fs.stat(inVm(p));
      if (!st.isFile() && !st.isBlockDevice()) return `${what} ${p} is not a file`;
      await fs.access(inVm(p), write ? fsc.R_OK | fsc.W_OK : fsc.R_OK);
      return undefined;
    } catch (err) {
      return `${what} ${p}: ${err.code ?? err.message}`;
    }
  };

  /** One request -> {status, body?}. */
  const handle = async (method, urlPath, body) => {
    const key = `${method} ${urlPath}`;
    if (scenario.exitOn === key) {
      event('exit', { code: 1, on: key });
      die(1, `fixture: exiting on ${key} as the scenario says`);
    }
    if (scenario.responses?.[key]) return scenario.responses[key];
    const found = findOperation(SPEC, method, urlPath);
    if (!found) {
      const r = RECORDED.notFound;
      return {
        status: r.status,
        body: {
          fault_message: r.body.fault_message
            .replace('{{method}}', method)
            .replace('{{path}}', urlPath),
        },
      };
    }
    const errors = checkRequest(SPEC, { method, path: urlPath, body });
    if (errors.length > 0)
      return fault(400, `The request does not conform to the API: ${errors.join('; ')}`);
    if (scenario.faults?.[key])
      return fault(scenario.faults[key].status, scenario.faults[key].fault_message);
    const op = found.operationId;
    if (PRE_BOOT_ONLY.has(op) && vm.state !== 'Not started')
      return fault(400, 'The requested operation is not supported after starting the microVM.');
    const fill = (text) =>
      text
        .replaceAll('{{id}}', id)
        .replaceAll('{{state}}', vm.state)
        .replaceAll('{{version}}', version);
    const recorded = (name) => JSON.parse(fill(JSON.stringify(RECORDED[name])));
    switch (op) {
      case 'describeInstance':
        return recorded('describeInstance');
      case 'getFirecrackerVersion':
        return recorded('getFirecrackerVersion');
      case 'getMachineConfiguration':
        return { status: 200, body: vm.machine };
      case 'getExportVmConfig':
        return {
          status: 200,
          body: {
            'machine-config': vm.machine,
            ...(vm.boot ? { 'boot-source': vm.boot } : {}),
            drives: [...vm.drives.values()],
            'network-interfaces': [...vm.nics.values()],
            ...(vm.vsock ? { vsock: vm.vsock } : {}),
          },
        };
      case 'putLogger': {
        if (vm.logger) return fault(400, 'Reinitialization of logger not allowed.');
        const bad = await mustBeFile(body.log_path, 'Logger file', true);
        if (bad) return fault(400, `Failed to open target file: ${bad}`);
        vm.logger = body;
        vm.configured.add('logger');
        await log(`Running Firecracker v${version}`);
        return { status: 204 };
      }
      case 'putMetrics': {
        if (vm.metrics) return fault(400, 'Reinitialization of metrics not allowed.');
        const bad = await mustBeFile(body.metrics_path, 'Metrics file', true);
        if (bad) return fault(400, `Failed to open target file: ${bad}`);
        vm.metrics = body;
        vm.configured.add('metrics');
        return { status: 204 };
      }
      case 'putMachineConfiguration':
        if (body.smt && body.vcpu_count > 1 && body.vcpu_count % 2 === 1)
          return fault(400, 'The number of vCPUs must be 1 or an even number if SMT is enabled.');
        vm.machine = { ...vm.machine, ...body };
        vm.configured.add('machine');
        return { status: 204 };
      case 'putGuestBootSource': {
        const bad =
          (await mustBeFile(body.kernel_image_path, 'Kernel image', false)) ??
          (body.initrd_path
            ? await mustBeFile(body.initrd_path, 'Initrd image', false)
            : undefined);
        if (bad) return fault(400, `The kernel file cannot be opened: ${bad}`);
        vm.boot = body;
        vm.configured.add('boot');
        return { status: 204 };
      }
      case 'putGuestDriveByID': {
        if (found.pathParams.drive_id !== body.drive_id)
          return fault(400, 'The id from the path does not match the id from the body!');
        if (!/^[A-Za-z0-9_]+$/.test(body.drive_id))
          return fault(400, `Invalid drive id ${body.drive_id}`);
        const bad = await mustBeFile(body.path_on_host, 'Drive', !body.is_read_only);
        if (bad) return fault(400, `Unable to create the block device: ${bad}`);
        if (
          body.is_root_device &&
          [...vm.drives.values()].some((d) => d.is_root_device && d.drive_id !== body.drive_id)
        )
          return fault(400, 'A root block device already exists!');
        vm.drives.set(body.drive_id, body);
        vm.configured.add('drives');
        return { status: 204 };
      }
      case 'putGuestNetworkInterfaceByID':
        if (found.pathParams.iface_id !== body.iface_id)
          return fault(400, 'The id from the path does not match the id from the body!');
        if (body.guest_mac && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(body.guest_mac))
          return fault(400, `Invalid MAC address ${body.guest_mac}`);
        vm.nics.set(body.iface_id, body);
        vm.configured.add('nics');
        return { status: 204 };
      case 'putGuestVsock': {
        if (existsSync(inVm(body.uds_path)))
          return fault(
            400,
            `Cannot create backend for vsock device: Address in use: ${body.uds_path}`,
          );
        vm.vsock = body;
        vm.configured.add('vsock');
        return { status: 204 };
      }
      case 'putEntropyDevice':
        vm.configured.add('entropy');
        return { status: 204 };
      case 'createSyncAction':
        return action(body.action_type);
      case 'patchVm':
        if (vm.state === 'Not started') return fault(400, 'The microVM is not running.');
        vm.state = body.state === 'Paused' ? 'Paused' : 'Running';
        await log(`The microVM is now ${vm.state}`);
        return { status: 204 };
      case 'createSnapshot': {
        if (vm.state !== 'Paused')
          return fault(400, 'Cannot create snapshot: the microVM is not paused.');
        const saved = {
          version,
          machine: vm.machine,
          boot: vm.boot,
          drives: [...vm.drives.values()],
          nics: [...vm.nics.values()],
          vsock: vm.vsock,
        };
        await fs.writeFile(inVm(body.snapshot_path), JSON.stringify(saved), {
          flag: 'wx',
          mode: 0o600,
        });
        await fs.writeFile(inVm(body.mem_file_path), Buffer.alloc(4096, 7), {
          flag: 'wx',
          mode: 0o600,
        });
        await log(`Snapshot created at ${body.snapshot_path}`);
        return { status: 204 };
      }
      case 'loadSnapshot': {
        const others = [...vm.configured].filter((c) => c !== 'logger' && c !== 'metrics');
        if (others.length > 0)
          return fault(
            400,
            `Loading a microVM snapshot not allowed after configuring boot-specific resources (${others.join(', ')}).`,
          );
        const memFile = body.mem_backend?.backend_path ?? body.mem_file_path;
        if (body.mem_backend && body.mem_file_path)
          return fault(400, 'mem_backend and mem_file_path are mutually exclusive');
        let saved;
        try {
          saved = JSON.parse(await fs.readFile(inVm(body.snapshot_path), 'utf8'));
          await fs.access(inVm(memFile), fsc.R_OK);
        } catch (err) {
          return fault(400, `Load snapshot error: ${err.code ?? err.message}`);
        }
        for (const d of saved.drives) {
          const bad = await mustBeFile(d.path_on_host, 'Drive', !d.is_read_only);
          if (bad) return fault(400, `Load snapshot error: ${bad}`);
        }
        Object.assign(vm, { machine: saved.machine, boot: saved.boot, vsock: saved.vsock });
        for (const d of saved.drives) vm.drives.set(d.drive_id, d);
        vm.state = body.resume_vm ? 'Running' : 'Paused';
        await startDevices();
        await log(`Snapshot loaded from ${body.snapshot_path}`);
        return { status: 204 };
      }
      default:
        return fault(400, `fixture: ${op} is not emulated`);
    }
  };

  const action = async (type) => {
    if (type === 'InstanceStart') {
      if (vm.state !== 'Not started') return fault(400, 'The microVM is already running.');
      if (!vm.boot) return fault(400, 'Cannot start microvm without kernel configuration.');
      const head = await fs.readFile(inVm(vm.boot.kernel_image_path)).then((b) => b.subarray(0, 4));
      if (head.toString('latin1') !== '\x7fELF')
        return fault(
          400,
          'Cannot load kernel due to invalid memory configuration or invalid kernel image: Invalid ELF magic number',
        );
      vm.state = 'Running';
      await startDevices();
      await log('Successfully started microvm that was configured from one single json');
      process.stdout.write(
        `fixture console: Linux version 6.1.0 (banger-fixture) booting ${id}\nfixture console: cmdline ${vm.boot.boot_args ?? ''}\n`,
      );
      event('instance-start');
      return { status: 204 };
    }
    if (type === 'SendCtrlAltDel') {
      if (vm.state !== 'Running') return fault(400, 'The microVM is not running.');
      event('ctrl-alt-del');
      if ((scenario.ctrlAltDel ?? 'exit') === 'exit') {
        setTimeout(() => {
          event('exit', { code: 0, on: 'guest reboot' });
          process.exit(0);
        }, 50);
      }
      return { status: 204 };
    }
    if (type === 'FlushMetrics') {
      if (vm.metrics)
        await fs.appendFile(
          inVm(vm.metrics.metrics_path),
          `${JSON.stringify({ utc_timestamp_ms: Date.now() })}\n`,
        );
      return { status: 204 };
    }
    return fault(400, `unknown action ${type}`);
  };

  /** The vsock device's host side: UDS listener with the CONNECT handshake. */
  const startDevices = async () => {
    if (!vm.vsock || vm.vsockServer) return;
    const server = net.createServer((conn) => vsockConnection(conn));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(inVm(vm.vsock.uds_path), resolve);
    });
    vm.vsockServer = server;
  };
  let agents = 0;
  const vsockConnection = (conn) => {
    let line = '';
    const onData = (chunk) => {
      line += chunk.toString('latin1');
      const nl = line.indexOf('\n');
      if (nl < 0) {
        if (line.length > 64) conn.destroy();
        return;
      }
      conn.off('data', onData);
      conn.pause();
      const rest = Buffer.from(line.slice(nl + 1), 'latin1');
      const m = /^CONNECT ([0-9]+)$/.exec(line.slice(0, nl));
      if (!m || vm.state !== 'Running') return conn.destroy();
      const port = Number(m[1]);
      if (port !== 1024 || !scenario.guestAgent) return conn.end();
      // The "guest" side of port 1024: the real banger-agent, connected over a unix socket.
      const sock = path.join(os.tmpdir(), `fcfix-${process.pid}-${++agents}.sock`);
      const guest = net.createServer();
      guest.listen(sock, () => {
        const agent = spawn(scenario.guestAgent, ['--connect-unix', sock], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        const stop = () => {
          agent.kill('SIGKILL');
          guest.close();
          fs.rm(sock, { force: true }).catch(() => undefined);
        };
        agent.once('exit', () => conn.destroy());
        guest.once('connection', (g) => {
          guest.close();
          fs.rm(sock, { force: true }).catch(() => undefined);
          conn.write(`OK ${1073741824 + agents}\n`);
          if (rest.length > 0) g.write(rest);
          conn.pipe(g);
          g.pipe(conn);
          conn.resume();
          conn.on('close', () => {
            g.destroy();
            stop();
          });
          g.on('close', () => conn.destroy());
          conn.on('error', () => undefined);
          g.on('error', () => undefined);
        });
      });
    };
    conn.on('data', onData);
    conn.on('error', () => undefined);
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body;
      let reply;
      if (req.headers['transfer-encoding']) {
        reply = fault(400, 'fixture: chunked bodies are not supported by Firecracker');
      } else if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          reply = fault(400, 'The body of the request is not valid JSON.');
        }
      }
      const urlPath = (req.url ?? '/').split('?')[0];
      reply ??= await handle(req.method ?? 'GET', urlPath, body);
      const found = findOperation(SPEC, req.method ?? 'GET', urlPath);
      // The fixture checks itself too: a reply the spec does not allow is a fixture bug.
      const replyErrors =
        found && !scenario.responses?.[`${req.method} ${urlPath}`]
          ? checkResponse(SPEC, found.operationId, reply.status, reply.body)
          : [];
      if (replyErrors.length > 0)
        process.stderr.write(
          `fixture: bad reply to ${req.method} ${urlPath}: ${replyErrors.join('; ')}\n`,
        );
      if (fixtureDir) {
        appendFileSync(
          path.join(fixtureDir, `${id}.requests.jsonl`),
          `${JSON.stringify({ method: req.method, path: urlPath, body, status: reply.status, fault: reply.body?.fault_message, pathKnown: pathExists(SPEC, urlPath) })}\n`,
        );
      }
      const out = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, out === '' ? {} : { 'Content-Type': 'application/json' });
      res.end(out);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', (err) => reject(err));
    server.listen(inVm(apiSock), resolve);
  }).catch((err) =>
    die(1, `Failed to open the API socket at ${apiSock}: ${err.code ?? err.message}`),
  );
  event('listening', { socket: inVm(apiSock) });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  await runFirecracker(process.argv.slice(2));
}
