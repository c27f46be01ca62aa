/*
 * XBee API frames in escaped mode (AP=2), as a node's serial link to its
 * XBee module: 0x10 Transmit Request out, 0x90 Receive Packet in.
 *
 * Frame: 0x7E, LEN (2, big-endian, counts the frame data), frame data,
 * checksum = 0xFF - (sum of frame data & 0xFF). After the start delimiter
 * every 0x7E, 0x7D, 0x11 or 0x13 goes out as 0x7D, byte ^ 0x20; LEN and the
 * checksum are computed on unescaped bytes. A raw 0x7E always starts a
 * frame, so the parser resynchronises on it.
 */
#ifndef XBEE_API_H
#define XBEE_API_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef XBEE_RX_MAX
#define XBEE_RX_MAX 80 /* frame data: 12 octets of 0x90 header + payload */
#endif
#if XBEE_RX_MAX > 267
#error "XBEE_RX_MAX: the RF data length must fit a uint8_t"
#endif

#define XBEE_TX_REQUEST 0x10
#define XBEE_TX_STATUS 0x8B
#define XBEE_RX_PACKET 0x90
#define XBEE_MODEM_STATUS 0x8A

/* Writes one byte to the serial port. */
typedef void (*xbee_put_fn)(void *ctx, uint8_t byte);

/* The coordinator (where the gateway's XBee sits) and the broadcast address. */
extern const uint8_t xbee_coordinator[8];
extern const uint8_t xbee_broadcast[8];

/*
 * Writes a frame whose data is `head` then `data` (escaped, with LEN and
 * checksum): the general form, for AT commands too.
 */
void xbee_write_frame(xbee_put_fn put, void *ctx, const uint8_t *head,
                      uint8_t head_len, const uint8_t *data, uint8_t len);

/*
 * Writes a 0x10 Transmit Request carrying `data` to `dest64`/`dest16`
 * (0xFFFE: unknown, let the module discover it), radius 0, options 0.
 * Frame id 0 asks for no 0x8B Transmit Status.
 */
void xbee_write_tx(xbee_put_fn put, void *ctx, uint8_t frame_id,
                   const uint8_t dest64[8], uint16_t dest16,
                   const uint8_t *data, uint8_t len);

/* Incremental reader of escaped frames. Zero it (or xbee_rx_init) first. */
typedef struct xbee_rx {
    uint8_t state;
    uint8_t esc;
    uint8_t sum;
    uint16_t len;
    uint16_t pos;
    uint8_t frame[XBEE_RX_MAX];
} xbee_rx;

void xbee_rx_init(xbee_rx *p);

/*
 * Feeds one byte from the serial port. Returns the length of the frame
 * data (type octet first, in p->frame) once a frame with a good checksum
 * is complete, else 0. Frames longer than XBEE_RX_MAX are skipped.
 */
uint16_t xbee_rx_byte(xbee_rx *p, uint8_t byte);

/*
 * For a complete 0x90 Receive Packet of `len` octets: points *data at its
 * RF data and returns that length; 0 for any other frame.
 */
uint8_t xbee_rx_packet(const xbee_rx *p, uint16_t len, const uint8_t **data);

#ifdef __cplusplus
}
#endif

#endif
