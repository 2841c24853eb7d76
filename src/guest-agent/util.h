/* Small helpers shared by the guest programs: logging, time, file reads. */
#ifndef BANGER_UTIL_H
#define BANGER_UTIL_H

#include <stddef.h>
#include <stdint.h>

extern const char *log_prefix;
extern int log_verbose;
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t now_ms(void);
void sleep_ms(unsigned ms);
/* Reads up to size-1 bytes of a small file, NUL-terminates, strips one trailing newline.
 * Returns the length or -1. */
int read_small_file(const char *path, char *out, size_t size);
int set_nonblock(int fd);

#endif
