/**
 * The /init of the KVM probe: a 150-byte static x86-64 ELF that writes a marker line to
 * stdout (the console) and exits. PID 1 exiting panics the kernel; with panic=-1 and QEMU's
 * -no-reboot the VM then ends at once. Made from bytes so the probe needs no busybox and
 * works with any kernel, including imported ones without an initramfs. It makes no other
 * system call, so running it on the host (as a test does) only prints the marker.
 */
const BASE = 0x400000;
const EHDR = 64;
const PHDR = 56;

export function probeInitElf(marker: string): Buffer {
  const msg = Buffer.from(`${marker}\n`, 'ascii');
  const code = Buffer.from([
    // mov eax, 1 (write)
    0xb8, 0x01, 0x00, 0x00, 0x00,
    // mov edi, 1 (stdout)
    0xbf, 0x01, 0x00, 0x00, 0x00,
    // lea rsi, [rip + 18] -> the message right after this code (18 = 35 - 17)
    0x48, 0x8d, 0x35, 0x12, 0x00, 0x00, 0x00,
    // mov edx, len (patched below)
    0xba, 0x00, 0x00, 0x00, 0x00,
    // syscall
    0x0f, 0x05,
    // mov eax, 231 (exit_group)
    0xb8, 0xe7, 0x00, 0x00, 0x00,
    // xor edi, edi (status 0)
    0x31, 0xff,
    // syscall
    0x0f, 0x05,
    // jmp . (never reached)
    0xeb, 0xfe,
  ]);
  code.writeUInt32LE(msg.length, 18);
  const size = EHDR + PHDR + code.length + msg.length;

  const ehdr = Buffer.alloc(EHDR);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(ehdr, 0); // ELF64, little-endian, SysV
  ehdr.writeUInt16LE(2, 0x10); // ET_EXEC
  ehdr.writeUInt16LE(0x3e, 0x12); // x86-64
  ehdr.writeUInt32LE(1, 0x14); // EV_CURRENT
  ehdr.writeBigUInt64LE(BigInt(BASE + EHDR + PHDR), 0x18); // entry: the code
  ehdr.writeBigUInt64LE(BigInt(EHDR), 0x20); // program headers right after this header
  ehdr.writeUInt16LE(EHDR, 0x34);
  ehdr.writeUInt16LE(PHDR, 0x36);
  ehdr.writeUInt16LE(1, 0x38);

  const phdr = Buffer.alloc(PHDR);
  phdr.writeUInt32LE(1, 0); // PT_LOAD
  phdr.writeUInt32LE(5, 4); // R + X
  phdr.writeBigUInt64LE(0n, 8); // from file offset 0 (headers included)
  phdr.writeBigUInt64LE(BigInt(BASE), 16);
  phdr.writeBigUInt64LE(BigInt(BASE), 24);
  phdr.writeBigUInt64LE(BigInt(size), 32);
  phdr.writeBigUInt64LE(BigInt(size), 40);
  phdr.writeBigUInt64LE(0x1000n, 48);

  return Buffer.concat([ehdr, phdr, code, msg]);
}
