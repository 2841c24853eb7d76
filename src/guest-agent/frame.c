#include "frame.h"

#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->end >= n)
		return 0;
	size_t len = buf_len(b);
	if (b->start > 0 && b->cap - len >= n) {
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
		return 0;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - len < n)
		cap *= 2;
	uint8_t *p = malloc(cap);
	if (!p)
		return -1;
	if (len)
		memcpy(p, b->data + b->start, len);
	free(b->data);
	b->data = p;
	b->cap = cap;
	b->start = 0;
	b->end = len;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		b->start = b->end = 0;
}

void buf_clear(struct buf *b) { b->start = b->end = 0; }

void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Slice-by-4 table CRC-32 (reflected 0xEDB88320): the agent checksums every byte it sends,
 * and guest CPUs may be emulated, so the cheap speed-up is worth 3 KiB. */
static uint32_t crc_table[4][256];
static int crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++) {
		crc_table[1][i] = (crc_table[0][i] >> 8) ^ crc_table[0][crc_table[0][i] & 0xff];
		crc_table[2][i] = (crc_table[1][i] >> 8) ^ crc_table[0][crc_table[1][i] & 0xff];
		crc_table[3][i] = (crc_table[2][i] >> 8) ^ crc_table[0][crc_table[2][i] & 0xff];
	}
	crc_ready = 1;
}

uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (n >= 4) {
		crc ^= bp_get32(p);
		crc = crc_table[3][crc & 0xff] ^ crc_table[2][(crc >> 8) & 0xff] ^
		      crc_table[1][(crc >> 16) & 0xff] ^ crc_table[0][crc >> 24];
		p += 4;
		n -= 4;
	}
	while (n--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int is_magic(const uint8_t *p)
{
	return p[0] == BP_MAGIC0 && p[1] == BP_MAGIC1 && p[2] == BP_MAGIC2 && p[3] == BP_MAGIC3;
}

/* Zero bytes between frames are padding (the preamble), not garbage. */
static size_t count_nonzero(const uint8_t *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += p[i] != 0;
	return c;
}

int frame_next(struct buf *in, struct frame *f, size_t *skipped)
{
	for (;;) {
		uint8_t *p = in->data + in->start;
		size_t len = buf_len(in);
		/* find a magic */
		size_t i = 0;
		while (i + 4 <= len) {
			uint8_t *hit = memchr(p + i, BP_MAGIC0, len - i);
			if (!hit) {
				i = len;
				break;
			}
			i = (size_t)(hit - p);
			if (i + 4 > len || is_magic(hit))
				break;
			i++;
		}
		if (i + 4 > len) {
			/* keep a possible magic prefix at the end */
			size_t keep = len < 3 ? len : 3;
			while (keep > 0 && p[len - keep] != BP_MAGIC0)
				keep--;
			if (i > len - keep)
				i = len - keep;
		}
		if (i > 0) {
			*skipped += count_nonzero(p, i);
			buf_consume(in, i);
			p = in->data + in->start;
			len = buf_len(in);
		}
		if (len < BP_HEADER_SIZE)
			return 0;
		uint32_t length = bp_get32(p + 12);
		if (bp_get16(p + 6) != 0 || length > BP_MAX_PAYLOAD) {
			*skipped += 1;
			buf_consume(in, 1);
			continue;
		}
		if (len < BP_HEADER_SIZE + (size_t)length)
			return 0;
		uint32_t crc = crc32_update(0, p, 16);
		crc = crc32_update(crc, p + BP_HEADER_SIZE, length);
		if (crc != bp_get32(p + 16)) {
			*skipped += 1;
			buf_consume(in, 1);
			continue;
		}
		f->type = p[4];
		f->flags = p[5];
		f->channel = bp_get32(p + 8);
		f->length = length;
		f->payload = p + BP_HEADER_SIZE;
		/* consume without compaction so the payload pointer stays valid */
		in->start += BP_HEADER_SIZE + length;
		return 1;
	}
}

uint8_t *frame_begin(struct buf *out, size_t max)
{
	if (buf_reserve(out, BP_HEADER_SIZE + max) < 0)
		return NULL;
	return out->data + out->end + BP_HEADER_SIZE;
}

void frame_commit(struct buf *out, uint8_t type, uint8_t flags, uint32_t channel, size_t len)
{
	uint8_t *h = out->data + out->end;
	h[0] = BP_MAGIC0;
	h[1] = BP_MAGIC1;
	h[2] = BP_MAGIC2;
	h[3] = BP_MAGIC3;
	h[4] = type;
	h[5] = flags;
	bp_put16(h + 6, 0);
	bp_put32(h + 8, channel);
	bp_put32(h + 12, (uint32_t)len);
	uint32_t crc = crc32_update(0, h, 16);
	crc = crc32_update(crc, h + BP_HEADER_SIZE, len);
	bp_put32(h + 16, crc);
	out->end += BP_HEADER_SIZE + len;
}

int frame_put(struct buf *out, uint8_t type, uint8_t flags, uint32_t channel, const void *payload,
	      size_t len)
{
	if (len > BP_MAX_PAYLOAD)
		return -1;
	uint8_t *p = frame_begin(out, len);
	if (!p)
		return -1;
	if (len)
		memcpy(p, payload, len);
	frame_commit(out, type, flags, channel, len);
	return 0;
}
