/**
 * The /init of banger's initramfs, run by busybox sh INSIDE the guest (the no-shell rule is
 * about the host). It loads the virtio modules the Debian cloud kernel lacks, mounts the root
 * filesystem named on the kernel command line and hands over to its init. On any failure it
 * says what failed on the console and powers off at once, so the host sees a fast failure
 * with a reason instead of a hang.
 */
import { BangerError } from '../base/index.js';

export const INITRAMFS_FAIL_PREFIX = 'banger-initramfs:';
export const DEFAULT_GUEST_INIT = '/sbin/banger-init';
/** How long /init waits for the root block device (tenths of a second). */
const ROOT_WAIT_TENTHS = 50;

export function initramfsInitScript(modules: readonly string[]): string {
  for (const m of modules) {
    if (!/^[a-z0-9_]+$/.test(m))
      throw new BangerError('internal', `module name ${m} is not [a-z0-9_]+`);
  }
  return `#!/bin/sh
# banger initramfs: load virtio modules, mount the root filesystem, switch to its init.
PATH=/bin
export PATH
# Words of /proc/cmdline are split below: never let them glob.
set -f

fail() {
	echo "${INITRAMFS_FAIL_PREFIX} $*"
	poweroff -f
	# Only reached if poweroff failed: init exiting panics the kernel, and panic=-1 with
	# QEMU -no-reboot ends the VM.
	exit 1
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "cannot mount devtmpfs on /dev"

for m in ${modules.join(' ')}; do
	insmod "/lib/modules/$m.ko" || fail "cannot load kernel module $m"
done

root=/dev/vda
rootfstype=ext4
mode=ro
init=${DEFAULT_GUEST_INIT}
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	root=*) root="\${arg#root=}" ;;
	rootfstype=*) rootfstype="\${arg#rootfstype=}" ;;
	ro) mode=ro ;;
	rw) mode=rw ;;
	init=*) init="\${arg#init=}" ;;
	esac
done

tries=0
while [ ! -b "$root" ]; do
	tries=$((tries + 1))
	[ "$tries" -le ${String(ROOT_WAIT_TENTHS)} ] || fail "root device $root did not appear within ${String(ROOT_WAIT_TENTHS / 10)} s"
	sleep 0.1
done

mount -t "$rootfstype" -o "$mode" "$root" /newroot || fail "cannot mount $root ($rootfstype, $mode) on /newroot"
[ -e "/newroot$init" ] || [ -L "/newroot$init" ] || fail "init $init not found on $root"

for d in dev proc sys; do
	if [ -d "/newroot/$d" ]; then
		mount --move "/$d" "/newroot/$d" || fail "cannot move /$d to the root filesystem"
	else
		umount "/$d" || fail "cannot unmount /$d"
	fi
done

exec switch_root /newroot "$init" "$@"
`;
}
