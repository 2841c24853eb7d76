/**
 * Assembles banger's initramfs from bytes: busybox with the few applet links /init uses,
 * the module files in load order, the /init script and the device nodes the kernel needs
 * before devtmpfs is mounted (/dev/console, or init has no stdout). Pure and deterministic.
 */
import { writeCpio, type CpioEntry } from './cpio-writer.js';
import { initramfsInitScript } from './initramfs-init.js';

/** Busybox applets /init calls (everything else it uses is an ash builtin). */
export const INITRAMFS_APPLETS = [
  'sh',
  'cat',
  'insmod',
  'mount',
  'umount',
  'sleep',
  'switch_root',
  'poweroff',
] as const;

export interface InitramfsModule {
  /** Normalised module name (virtio_rng), loaded as /lib/modules/NAME.ko. */
  name: string;
  /** Uncompressed .ko bytes. */
  data: Uint8Array;
}

export function buildInitramfs(input: {
  busybox: Uint8Array;
  modules: readonly InitramfsModule[];
}): Buffer {
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'bin' },
    { kind: 'file', path: 'bin/busybox', data: input.busybox, mode: 0o755 },
    ...INITRAMFS_APPLETS.map((applet): CpioEntry => ({
      kind: 'symlink',
      path: `bin/${applet}`,
      target: 'busybox',
    })),
    { kind: 'dir', path: 'dev' },
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { kind: 'dir', path: 'lib' },
    { kind: 'dir', path: 'lib/modules' },
    ...input.modules.map((m): CpioEntry => ({
      kind: 'file',
      path: `lib/modules/${m.name}.ko`,
      data: m.data,
    })),
    { kind: 'dir', path: 'newroot' },
    { kind: 'dir', path: 'proc', mode: 0o555 },
    { kind: 'dir', path: 'sys', mode: 0o555 },
    {
      kind: 'file',
      path: 'init',
      data: Buffer.from(initramfsInitScript(input.modules.map((m) => m.name)), 'utf8'),
      mode: 0o755,
    },
  ];
  return writeCpio(entries);
}
