/*
 * banger-marker-init: the "raw boot" baseline for benchmarks. As PID 1 it prints
 * BANGER-MARKER on the console, syncs and powers the machine off. Nothing else.
 */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd < 0) {
		/* a root filesystem without /dev/console: the kernel gave us no stdio either */
		mkdir("/dev", 0755);
		mount("devtmpfs", "/dev", "devtmpfs", 0, "mode=0755");
		fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	}
	static const char marker[] = "BANGER-MARKER\n";
	if (write(fd >= 0 ? fd : 1, marker, sizeof(marker) - 1) < 0) {
		/* nowhere to report it */
	}
	sync();
	reboot(RB_POWER_OFF);
	reboot(RB_AUTOBOOT); /* with QEMU's -no-reboot this ends the VM too */
	for (;;)
		pause();
}
