/*
 * The serial bridge's framing (RFC 1055 SLIP with a CRC): each frame is
 * C0, the escaped packet then its CRC-16/XMODEM (poly 0x1021, init 0)
 * little-endian, C0. Escapes: C0 -> DB DC, DB -> DB DD. The packet is an
 * MQTT-SN message in a forwarder encapsulation whose wireless node id is the
 * radio node's 2-octet address, little-endian.
 */
#ifndef SLIP_H
#define SLIP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SLIP_RX_MAX
#define SLIP_RX_MAX 72 /* packet + 2 CRC octets */
#endif
#if SLIP_RX_MAX > 255
#error "SLIP_RX_MAX must fit the uint8_t frame length"
#endif

#define SLIP_END 0xC0
#define SLIP_ESC 0xDB
#define SLIP_ESC_END 0xDC
#define SLIP_ESC_ESC 0xDD

/* Writes one byte to the serial port. */
typedef void (*slip_put_fn)(void *ctx, uint8_t byte);

/* CRC-16/XMODEM of `len` octets, continuing from `crc` (start with 0). */
uint16_t crc16_xmodem(uint16_t crc, const uint8_t *data, uint16_t len);

/* Writes one frame whose packet is `a` then `b` (either may be empty). */
void slip_write(slip_put_fn put, void *ctx, const uint8_t *a, uint8_t a_len,
                const uint8_t *b, uint8_t b_len);

/* Incremental reader. Zero it (or slip_rx_init) first. */
typedef struct slip_rx {
    uint8_t esc;
    uint8_t overflow;
    uint8_t len;
    uint8_t buf[SLIP_RX_MAX];
} slip_rx;

void slip_rx_init(slip_rx *p);

/*
 * Feeds one byte. Returns the packet length (in p->buf, CRC removed) when a
 * frame with a good CRC ends, else 0. Empty, oversized and corrupt frames
 * are dropped.
 */
uint8_t slip_rx_byte(slip_rx *p, uint8_t byte);

#ifdef __cplusplus
}
#endif

#endif
