/* Tag-length-value records inside a frame payload: [u16 tag][u32 len][bytes], little endian.
 * The writer grows a heap buffer; the reader walks a borrowed buffer and rejects truncation.
 * Used for FRAME_JOB, FRAME_CALL and FRAME_REPLY so that neither side parses JSON it does not
 * need to. Writers return 0 or -ENOMEM; tlv_next returns 1 (a record), 0 (end), -EPROTO. */
#ifndef FNBOX_TLV_H
#define FNBOX_TLV_H

#include <stddef.h>
#include <stdint.h>

struct tlv_writer {
    uint8_t *buf;
    size_t len, cap;
};

int tlv_put(struct tlv_writer *w, uint16_t tag, const void *data, size_t len);
int tlv_put_str(struct tlv_writer *w, uint16_t tag, const char *s);
int tlv_put_u64(struct tlv_writer *w, uint16_t tag, uint64_t v);
void tlv_writer_free(struct tlv_writer *w);

struct tlv_reader {
    const uint8_t *p;
    size_t left;
};

int tlv_next(struct tlv_reader *r, uint16_t *tag, const uint8_t **data, size_t *len);
/* 0 when len is 8, else -EPROTO */
int tlv_get_u64(const uint8_t *data, size_t len, uint64_t *out);

#endif
