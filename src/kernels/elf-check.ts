/**
 * Checks that bytes are a complete x86-64 ELF executable (a vmlinux QEMU can boot through
 * PVH and Firecracker can load): the header fields, and every loadable segment inside the
 * file (a decompressor that stopped early leaves a truncated file that still starts with
 * \x7fELF). Pure: the caller reads the header region and passes the file size.
 */
export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

const EM_X86_64 = 62;
const ET_EXEC = 2;
const PT_LOAD = 1;

/** How many leading bytes `checkElfVmlinux` needs to see all program headers. */
export function elfHeaderBytesNeeded(head: Uint8Array): number {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.length < 64) return 64;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  return Math.max(64, phoff + phentsize * phnum);
}

/** Returns undefined when fine, else why the bytes are not a bootable vmlinux. */
export function checkElfVmlinux(head: Uint8Array, fileSize: number): string | undefined {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.length < 64 || !buf.subarray(0, 4).equals(ELF_MAGIC))
    return 'it does not start with the ELF magic';
  if (buf[4] !== 2) return 'it is not a 64-bit ELF';
  if (buf[5] !== 1) return 'it is not a little-endian ELF';
  if (buf.readUInt16LE(0x10) !== ET_EXEC) return 'it is not an ELF executable (e_type)';
  if (buf.readUInt16LE(0x12) !== EM_X86_64) return 'it is not an x86-64 ELF (e_machine)';
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  if (phnum === 0 || phentsize < 56) return 'it has no program headers';
  if (phoff + phentsize * phnum > buf.length)
    return 'its program headers lie outside the bytes read';
  let loads = 0;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (buf.readUInt32LE(at) !== PT_LOAD) continue;
    loads++;
    const offset = Number(buf.readBigUInt64LE(at + 8));
    const filesz = Number(buf.readBigUInt64LE(at + 32));
    if (offset + filesz > fileSize) {
      return `segment ${String(i)} ends at byte ${String(offset + filesz)} but the file has ${String(fileSize)} (truncated?)`;
    }
  }
  return loads === 0 ? 'it has no loadable segment' : undefined;
}
