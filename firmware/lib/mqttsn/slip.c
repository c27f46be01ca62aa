/* SLIP + CRC-16/XMODEM framing; see slip.h. */
#include "slip.h"

#include <string.h>

uint16_t crc16_xmodem(uint16_t crc, const uint8_t *data, uint16_t len)
{
    while (len--) {
        uint8_t i;
        crc ^= (uint16_t)(*data++ << 8);
        for (i = 0; i < 8; i++) {
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
        }
    }
    return crc;
}

static void put_escaped(slip_put_fn put, void *ctx, const uint8_t *p,
                        uint8_t n)
{
    while (n--) {
        uint8_t b = *p++;
        if (b == SLIP_END || b == SLIP_ESC) {
            put(ctx, SLIP_ESC);
            b = b == SLIP_END ? SLIP_ESC_END : SLIP_ESC_ESC;
        }
        put(ctx, b);
    }
}

void slip_write(slip_put_fn put, void *ctx, const uint8_t *a, uint8_t a_len,
                const uint8_t *b, uint8_t b_len)
{
    uint16_t crc = crc16_xmodem(crc16_xmodem(0, a, a_len), b, b_len);
    uint8_t le[2];
    le[0] = (uint8_t)crc;
    le[1] = (uint8_t)(crc >> 8);
    put(ctx, SLIP_END);
    put_escaped(put, ctx, a, a_len);
    put_escaped(put, ctx, b, b_len);
    put_escaped(put, ctx, le, 2);
    put(ctx, SLIP_END);
}

void slip_rx_init(slip_rx *p)
{
    memset(p, 0, sizeof *p);
}

uint8_t slip_rx_byte(slip_rx *p, uint8_t b)
{
    if (b == SLIP_END) {
        uint8_t n = p->len;
        uint8_t ok = !p->overflow && n > 2 &&
                     crc16_xmodem(0, p->buf, (uint16_t)(n - 2)) ==
                         (uint16_t)(p->buf[n - 2] | p->buf[n - 1] << 8);
        p->len = 0;
        p->esc = 0;
        p->overflow = 0;
        return ok ? (uint8_t)(n - 2) : 0;
    }
    if (b == SLIP_ESC) {
        p->esc = 1;
        return 0;
    }
    if (p->esc) {
        b = b == SLIP_ESC_END ? SLIP_END : b == SLIP_ESC_ESC ? SLIP_ESC : b;
        p->esc = 0;
    }
    if (p->len < SLIP_RX_MAX) {
        p->buf[p->len++] = b;
    } else {
        p->overflow = 1;
    }
    return 0;
}
