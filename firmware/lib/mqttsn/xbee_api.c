/* XBee API mode 2 framing; see xbee_api.h. */
#include "xbee_api.h"

#include <string.h>

const uint8_t xbee_coordinator[8] = {0, 0, 0, 0, 0, 0, 0, 0};
const uint8_t xbee_broadcast[8] = {0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

enum { WAIT_START, LEN_MSB, LEN_LSB, DATA, CHECKSUM };

static uint8_t special(uint8_t b)
{
    return b == 0x7E || b == 0x7D || b == 0x11 || b == 0x13;
}

static void put_escaped(xbee_put_fn put, void *ctx, uint8_t b)
{
    if (special(b)) {
        put(ctx, 0x7D);
        b ^= 0x20;
    }
    put(ctx, b);
}

static uint8_t put_all(xbee_put_fn put, void *ctx, const uint8_t *p,
                       uint8_t n, uint8_t sum)
{
    while (n--) {
        sum = (uint8_t)(sum + *p);
        put_escaped(put, ctx, *p++);
    }
    return sum;
}

void xbee_write_frame(xbee_put_fn put, void *ctx, const uint8_t *head,
                      uint8_t head_len, const uint8_t *data, uint8_t len)
{
    uint16_t total = (uint16_t)(head_len + len);
    uint8_t sum;
    put(ctx, 0x7E);
    put_escaped(put, ctx, (uint8_t)(total >> 8));
    put_escaped(put, ctx, (uint8_t)total);
    sum = put_all(put, ctx, head, head_len, 0);
    sum = put_all(put, ctx, data, len, sum);
    put_escaped(put, ctx, (uint8_t)(0xFF - sum));
}

void xbee_write_tx(xbee_put_fn put, void *ctx, uint8_t frame_id,
                   const uint8_t dest64[8], uint16_t dest16,
                   const uint8_t *data, uint8_t len)
{
    /* type, frame id, dest64, dest16, radius, options (§1.2 of the notes) */
    uint8_t head[14];
    head[0] = XBEE_TX_REQUEST;
    head[1] = frame_id;
    memcpy(head + 2, dest64, 8);
    head[10] = (uint8_t)(dest16 >> 8);
    head[11] = (uint8_t)dest16;
    head[12] = 0;
    head[13] = 0;
    xbee_write_frame(put, ctx, head, sizeof head, data, len);
}

void xbee_rx_init(xbee_rx *p)
{
    memset(p, 0, sizeof *p);
}

uint16_t xbee_rx_byte(xbee_rx *p, uint8_t b)
{
    if (b == 0x7E) { /* always a frame start in AP=2 */
        p->state = LEN_MSB;
        p->esc = 0;
        return 0;
    }
    if (p->state == WAIT_START) {
        return 0;
    }
    if (b == 0x7D) {
        p->esc = 1;
        return 0;
    }
    if (p->esc) {
        b ^= 0x20;
        p->esc = 0;
    }
    switch (p->state) {
    case LEN_MSB:
        p->len = (uint16_t)(b << 8);
        p->state = LEN_LSB;
        break;
    case LEN_LSB:
        p->len |= b;
        p->pos = 0;
        p->sum = 0;
        p->state = (p->len == 0 || p->len > XBEE_RX_MAX) ? WAIT_START : DATA;
        break;
    case DATA:
        p->frame[p->pos++] = b;
        p->sum = (uint8_t)(p->sum + b);
        if (p->pos == p->len) {
            p->state = CHECKSUM;
        }
        break;
    default: /* CHECKSUM */
        p->state = WAIT_START;
        if ((uint8_t)(p->sum + b) == 0xFF) {
            return p->len;
        }
        break;
    }
    return 0;
}

uint8_t xbee_rx_packet(const xbee_rx *p, uint16_t len, const uint8_t **data)
{
    /* type, src64 (8), src16 (2), options, RF data */
    if (len < 12 || p->frame[0] != XBEE_RX_PACKET) {
        return 0;
    }
    *data = p->frame + 12;
    return (uint8_t)(len - 12);
}
