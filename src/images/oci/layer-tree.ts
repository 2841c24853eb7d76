/**
 * Applies image layers, in order, to a directory tree on the host, with whiteouts and opaque
 * directories. The tree is what `mkfs.ext4 -d` copies; what the host must not hold (other
 * owners, set-id bits, device nodes) is kept in memory and applied to the ext4 image afterwards
 * with debugfs (see `fixupScript`).
 *
 * Safety: an in-memory mirror of the tree decides every write. A path is created only when each
 * of its parents is a directory this tree made; a symlink is never followed, never written
 * through, and a final component is created with O_EXCL|O_NOFOLLOW. Names are normalised first
 * (`entryPath`): nothing absolute, nothing with `..`. Hard links must point at a file already
 * in the tree. The scratch root is private to the daemon, so the mirror and the disk agree; the
 * parent of every write is still lstat'ed as a second check.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { badRequest, operationFailed } from '../../base/index.js';
import type { TarEntry } from '../tar/tar-reader.js';
import { entryPath } from './entry-path.js';
import { checkDeviceEntry, type LayerLimits } from './layer-policy.js';

export type NodeKind = 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo';

/** Ownership, mode and time as the image wants them; shared by the names of a hard link. */
interface Meta {
  /** Permission plus set-id/sticky bits. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Mode bits the host copy has (what mkfs.ext4 -d will copy). */
  hostMode: number;
  rdev?: { major: number; minor: number };
  size: number;
}

export interface TreeNode {
  kind: NodeKind;
  meta: Meta;
  /** The layer that last wrote this node (whiteouts and opaque dirs act on lower ones only). */
  layer: number;
  children?: Map<string, TreeNode>;
  linkTarget?: string;
}

export interface LayerStats {
  entries: number;
  bytes: number;
  /** Extended attributes (e.g. file capabilities) seen and not applied. */
  xattrs: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MAX_ID = 0xfffffffe;
const TYPE_BITS: Record<NodeKind, number> = {
  dir: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
};

export class LayerTree {
  readonly root: TreeNode;
  private entries = 0;
  private bytes = 0;
  private xattrs = 0;
  /** The directory node whose host path was last lstat'ed as a real directory. */
  private lastChecked: TreeNode | undefined;

  constructor(
    private readonly hostRoot: string,
    private readonly limits: LayerLimits,
  ) {
    this.root = {
      kind: 'dir',
      meta: { mode: 0o755, uid: 0, gid: 0, mtime: 0, hostMode: 0o755, size: 0 },
      layer: -1,
      children: new Map(),
    };
  }

  /** Makes the (empty, private) host root; call once before the first layer. */
  async init(): Promise<void> {
    await fs.mkdir(this.hostRoot, { mode: 0o700 });
    await fs.chmod(this.hostRoot, 0o755);
  }

  get stats(): LayerStats {
    return { entries: this.entries, bytes: this.bytes, xattrs: this.xattrs };
  }

  /** Applies one layer's entries; `layer` counts from 0 (the base). */
  async applyLayer(
    entries: AsyncIterable<TarEntry>,
    options: { layer: number; where: string; signal?: AbortSignal },
  ): Promise<void> {
    for await (const entry of entries) {
      options.signal?.throwIfAborted();
      this.entries++;
      const where = `${options.where}, entry ${String(entry.index)}`;
      if (this.entries > this.limits.maxEntries) {
        throw badRequest(
          `${options.where}: the image has more than ${String(this.limits.maxEntries)} entries`,
          { hint: 'raise [oci] max_entries in config.toml if this image is legitimate' },
        );
      }
      await this.applyEntry(entry, options.layer, where);
    }
  }

  private async applyEntry(entry: TarEntry, layer: number, where: string): Promise<void> {
    if (entry.xattrs > 0) this.xattrs += entry.xattrs;
    const rel = entryPath(entry.path, where);
    const base = rel === '' ? '' : path.posix.basename(rel);
    if (base.startsWith(WHITEOUT)) {
      await this.whiteout(rel, base, layer, where);
      return;
    }
    checkIds(entry, where);
    if (rel === '') {
      if (entry.type !== 'dir') throw badRequest(`${where}: the image root must be a directory`);
      this.setDirMeta(this.root, entry, layer);
      await fs.chmod(this.hostRoot, this.root.meta.hostMode);
      return;
    }
    const parent = await this.parentDir(rel, layer, entry.mtime, where);
    const name = path.posix.basename(rel);
    const host = this.host(rel);
    const existing = parent.children?.get(name);

    if (entry.type === 'dir') {
      if (existing?.kind === 'dir') {
        this.setDirMeta(existing, entry, layer);
        await fs.chmod(host, existing.meta.hostMode);
        return;
      }
      if (existing !== undefined) await this.removeNode(parent, name, host);
      const node: TreeNode = {
        kind: 'dir',
        meta: dirMeta(entry),
        layer,
        children: new Map(),
      };
      await fs.mkdir(host, { mode: 0o700 });
      await fs.chmod(host, node.meta.hostMode);
      parent.children?.set(name, node);
      return;
    }

    if (entry.type === 'hardlink') {
      const target = this.linkTarget(entry, where);
      if (existing !== undefined) await this.removeNode(parent, name, host);
      await fs.link(this.host(target.rel), host);
      parent.children?.set(name, {
        kind: target.node.kind,
        meta: target.node.meta,
        layer,
      });
      return;
    }

    if (existing !== undefined) await this.removeNode(parent, name, host);
    switch (entry.type) {
      case 'file': {
        if (this.bytes + entry.size > this.limits.maxBytes) {
          throw badRequest(
            `${where}: ${JSON.stringify(entry.path)} (${String(entry.size)} bytes) takes the image past ${String(this.limits.maxBytes)} bytes of content`,
            { hint: 'raise [oci] max_unpacked_size in config.toml if this image is legitimate' },
          );
        }
        this.bytes += entry.size;
        const meta = fileMeta(entry);
        await writeFile(host, entry, meta.hostMode);
        parent.children?.set(name, { kind: 'file', meta, layer });
        return;
      }
      case 'symlink': {
        const target = entry.linkTarget ?? '';
        if (target === '' || Buffer.byteLength(target) > 4095) {
          throw badRequest(
            `${where}: symlink ${JSON.stringify(entry.path)} has an empty or overlong target`,
          );
        }
        await fs.symlink(target, host);
        await fs.lutimes(host, entry.mtime, entry.mtime);
        parent.children?.set(name, {
          kind: 'symlink',
          meta: { ...baseMeta(entry), hostMode: 0o777, mode: 0o777 },
          layer,
          linkTarget: target,
        });
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        checkDeviceEntry(entry, this.limits.devices, where);
        // A placeholder only: the node itself is made inside the ext4 image (fixupScript).
        const meta: Meta = {
          ...baseMeta(entry),
          hostMode: 0o600,
          rdev: { major: entry.devMajor, minor: entry.devMinor },
        };
        await writeFile(host, undefined, 0o600);
        parent.children?.set(name, { kind: entry.type, meta, layer });
        return;
      }
    }
  }

  /** `.wh.NAME` hides NAME of lower layers; `.wh..wh..opq` hides the lower contents of its dir. */
  private async whiteout(rel: string, base: string, layer: number, where: string): Promise<void> {
    const dirRel = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
    const dir = this.findDir(dirRel, where);
    if (dir === undefined) return;
    if (base === OPAQUE) {
      await this.purgeLower(dir, dirRel, layer);
      return;
    }
    if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return; // AUFS bookkeeping (.wh..wh.plnk)
    const hidden = base.slice(WHITEOUT.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw badRequest(`${where}: malformed whiteout ${JSON.stringify(rel)}`);
    }
    const node = dir.children?.get(hidden);
    if (node === undefined || node.layer >= layer) return;
    await this.removeNode(dir, hidden, this.host(dirRel === '' ? hidden : `${dirRel}/${hidden}`));
  }

  /** Removes what lower layers put in `dir`, keeping (and descending into) this layer's entries. */
  private async purgeLower(dir: TreeNode, dirRel: string, layer: number): Promise<void> {
    for (const [name, child] of [...(dir.children ?? new Map<string, TreeNode>())]) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (child.layer < layer) await this.removeNode(dir, name, this.host(rel));
      else if (child.kind === 'dir') await this.purgeLower(child, rel, layer);
    }
  }

  /**
   * The directory that will hold `rel`, creating missing parents (root-owned, 0755). Refuses a
   * parent that is a symlink or not a directory: banger never writes through a symlink.
   */
  private async parentDir(
    rel: string,
    layer: number,
    mtime: number,
    where: string,
  ): Promise<TreeNode> {
    const parts = rel.split('/');
    parts.pop();
    let dir = this.root;
    let at = '';
    for (const part of parts) {
      at = at === '' ? part : `${at}/${part}`;
      let child = dir.children?.get(part);
      if (child === undefined) {
        child = {
          kind: 'dir',
          meta: { mode: 0o755, uid: 0, gid: 0, mtime, hostMode: 0o755, size: 0 },
          layer,
          children: new Map(),
        };
        await fs.mkdir(this.host(at), { mode: 0o700 });
        await fs.chmod(this.host(at), 0o755);
        dir.children?.set(part, child);
      }
      refuseNonDir(child, at, rel, where);
      dir = child;
    }
    // Second check, on disk: the parent must be a real directory (lstat: a symlink is not).
    // Entries come grouped by directory, so the last parent checked is usually this one.
    if (dir !== this.lastChecked) {
      const st = await fs.lstat(this.host(at));
      if (!st.isDirectory()) {
        throw operationFailed(
          `${where}: ${this.host(at)} is not a directory on disk (tree out of sync)`,
        );
      }
      this.lastChecked = dir;
    }
    return dir;
  }

  /** Like parentDir's walk, for an existing directory; undefined when some part is missing. */
  private findDir(rel: string, where: string): TreeNode | undefined {
    let dir = this.root;
    if (rel === '') return dir;
    let at = '';
    for (const part of rel.split('/')) {
      at = at === '' ? part : `${at}/${part}`;
      const child = dir.children?.get(part);
      if (child === undefined) return undefined;
      refuseNonDir(child, at, rel, where);
      dir = child;
    }
    return dir;
  }

  private linkTarget(entry: TarEntry, where: string): { rel: string; node: TreeNode } {
    const rel = entryPath(entry.linkTarget ?? '', where, 'hard link target');
    const parts = rel.split('/');
    const name = parts.pop() ?? '';
    const dir = rel === '' ? undefined : this.findDir(parts.join('/'), where);
    const node = dir?.children?.get(name);
    if (node === undefined) {
      throw badRequest(
        `${where}: hard link ${JSON.stringify(entry.path)} points at ${JSON.stringify(entry.linkTarget)}, which is not in the image`,
      );
    }
    if (
      node.kind === 'dir' ||
      node.kind === 'char' ||
      node.kind === 'block' ||
      node.kind === 'fifo'
    ) {
      throw badRequest(
        `${where}: hard link ${JSON.stringify(entry.path)} points at a ${node.kind === 'dir' ? 'directory' : 'device node'}; only files and symlinks can be hard linked`,
      );
    }
    return { rel, node };
  }

  private async removeNode(parent: TreeNode, name: string, host: string): Promise<void> {
    this.lastChecked = undefined;
    await fs.rm(host, { recursive: true, force: true });
    parent.children?.delete(name);
  }

  private setDirMeta(node: TreeNode, entry: TarEntry, layer: number): void {
    node.meta = dirMeta(entry);
    node.layer = layer;
  }

  private host(rel: string): string {
    return rel === '' ? this.hostRoot : path.join(this.hostRoot, rel);
  }

  /**
   * After the last layer: directories every banger guest needs (/root for the work disk, /etc
   * for the resolver link), then directory times as the layers set them.
   */
  async finish(): Promise<void> {
    for (const [name, mode] of [
      ['root', 0o700],
      ['etc', 0o755],
    ] as const) {
      if (this.root.children?.has(name)) continue;
      await fs.mkdir(this.host(name), { mode: 0o700 });
      await fs.chmod(this.host(name), mode);
      this.root.children?.set(name, {
        kind: 'dir',
        meta: { mode, uid: 0, gid: 0, mtime: 0, hostMode: mode | 0o700, size: 0 },
        layer: Number.MAX_SAFE_INTEGER,
        children: new Map(),
      });
    }
    const stamp = async (node: TreeNode, rel: string): Promise<void> => {
      for (const [name, child] of node.children ?? []) {
        if (child.kind === 'dir') await stamp(child, rel === '' ? name : `${rel}/${name}`);
      }
      await fs.utimes(this.host(rel), node.meta.mtime, node.meta.mtime);
    };
    await stamp(this.root, '');
  }

  /** Bytes the tree occupies in ext4 (4 KiB blocks per file, shared once per hard link). */
  contentBytes(): number {
    const seen = new Set<Meta>();
    let bytes = 0;
    let inodes = 0;
    const walk = (node: TreeNode): void => {
      if (!seen.has(node.meta)) {
        seen.add(node.meta);
        inodes++;
        bytes += Math.ceil(node.meta.size / 4096) * 4096;
      }
      for (const child of node.children?.values() ?? []) walk(child);
    };
    walk(this.root);
    return bytes + inodes * 512;
  }

  /** Inodes the image needs (one per node; hard links share). */
  inodeCount(): number {
    const seen = new Set<Meta>();
    const walk = (node: TreeNode): void => {
      seen.add(node.meta);
      for (const child of node.children?.values() ?? []) walk(child);
    };
    walk(this.root);
    return seen.size;
  }

  /**
   * debugfs commands that make the ext4 image say what the layers said where the host copy
   * could not: owners other than the host's, set-id and sticky bits, modes the host needed to
   * widen, and device nodes (made in place of their placeholders).
   */
  fixupScript(host: { uid: number; gid: number }): string[] {
    const script: string[] = [];
    const walk = (node: TreeNode, inImage: string, parent: string, name: string): void => {
      const { meta } = node;
      const q = quote(inImage);
      if (node.kind === 'char' || node.kind === 'block' || node.kind === 'fifo') {
        const rdev = meta.rdev ?? { major: 0, minor: 0 };
        const spec =
          node.kind === 'fifo'
            ? 'p'
            : `${node.kind === 'char' ? 'c' : 'b'} ${String(rdev.major)} ${String(rdev.minor)}`;
        script.push(`cd ${quote(parent)}`, `rm ${quote(name)}`, `mknod ${quote(name)} ${spec}`);
        script.push(`sif ${q} mode 0${(TYPE_BITS[node.kind] | meta.mode).toString(8)}`);
        script.push(`sif ${q} uid ${String(meta.uid)}`, `sif ${q} gid ${String(meta.gid)}`);
        return;
      }
      // mkfs -E root_owner=0:0 makes the root directory root's whatever the host says.
      const hostUid = inImage === '/' ? 0 : host.uid;
      const hostGid = inImage === '/' ? 0 : host.gid;
      if (meta.uid !== hostUid) script.push(`sif ${q} uid ${String(meta.uid)}`);
      if (meta.gid !== hostGid) script.push(`sif ${q} gid ${String(meta.gid)}`);
      if (node.kind !== 'symlink' && meta.mode !== meta.hostMode) {
        script.push(`sif ${q} mode 0${(TYPE_BITS[node.kind] | meta.mode).toString(8)}`);
      }
      for (const [childName, child] of node.children ?? []) {
        const childPath = inImage === '/' ? `/${childName}` : `${inImage}/${childName}`;
        walk(child, childPath, inImage, childName);
      }
    };
    walk(this.root, '/', '/', '');
    return script;
  }

  /** The node at `rel` without following symlinks (for inspecting the result). */
  lookup(rel: string): TreeNode | undefined {
    let node: TreeNode | undefined = this.root;
    if (rel === '') return node;
    for (const part of rel.split('/')) {
      node = node?.kind === 'dir' ? node.children?.get(part) : undefined;
      if (node === undefined) return undefined;
    }
    return node;
  }
}

/** A debugfs argument: double quotes, with `"` doubled (its parser's only escape). */
export function quote(p: string): string {
  return `"${p.replace(/"/g, '""')}"`;
}

function refuseNonDir(node: TreeNode, at: string, rel: string, where: string): void {
  if (node.kind === 'dir') return;
  if (node.kind === 'symlink') {
    throw badRequest(
      `${where}: ${JSON.stringify(rel)} would be written through the symlink ${JSON.stringify(at)} -> ${JSON.stringify(node.linkTarget)}; banger never writes through a symlink`,
    );
  }
  throw badRequest(
    `${where}: ${JSON.stringify(rel)} needs ${JSON.stringify(at)} to be a directory, but it is a ${node.kind}`,
  );
}

function checkIds(entry: TarEntry, where: string): void {
  if (entry.uid > MAX_ID || entry.gid > MAX_ID) {
    throw badRequest(`${where}: uid/gid ${String(entry.uid)}/${String(entry.gid)} is out of range`);
  }
}

function baseMeta(entry: TarEntry): Omit<Meta, 'hostMode'> {
  return {
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    mtime: clampTime(entry.mtime),
    size: entry.type === 'file' ? entry.size : 0,
  };
}

function fileMeta(entry: TarEntry): Meta {
  // The host copy must stay readable for mkfs.ext4 -d, and never carries set-id bits.
  return { ...baseMeta(entry), hostMode: (entry.mode & 0o777) | 0o400 };
}

function dirMeta(entry: TarEntry): Meta {
  return { ...baseMeta(entry), hostMode: (entry.mode & 0o777) | 0o700 };
}

function clampTime(t: number): number {
  return Math.min(Math.max(0, t), 2 ** 33);
}

/** Creates the file (never through a symlink, never over an existing name) and streams the body. */
async function writeFile(host: string, entry: TarEntry | undefined, mode: number): Promise<void> {
  const handle = await fs.open(
    host,
    fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW,
    0o600,
  );
  try {
    if (entry !== undefined) {
      let written = 0;
      for await (const chunk of entry.body()) {
        let at = 0;
        while (at < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, at, chunk.length - at);
          at += bytesWritten;
        }
        written += chunk.length;
      }
      if (written !== entry.size) {
        throw operationFailed(`${host}: wrote ${String(written)} of ${String(entry.size)} bytes`);
      }
      const t = clampTime(entry.mtime);
      await handle.chmod(mode);
      await handle.utimes(t, t);
    } else {
      await handle.chmod(mode);
    }
  } finally {
    await handle.close();
  }
}
