/*
 * The serial bridge's relay rules, in plain C so the host tests check them
 * byte for byte (firmware/tests/vectors.c): what goes to the Pi for a radio
 * packet, and which node a frame from the Pi is for.
 */
#ifndef BRIDGE_RELAY_H
#define BRIDGE_RELAY_H

#include <stdint.h>

#include "slip.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The radio's largest payload (nRF24L01+). */
#define BRIDGE_MAX_PACKET 32
/* Node id 0xFFFF means "every node" in the forwarder header: not relayed. */
#define BRIDGE_BROADCAST 0xFFFF

/*
 * A packet from a node: relayed to the Pi as one SLIP frame (packet, then
 * its CRC-16/XMODEM little-endian) when it is a forwarder encapsulation with
 * a 2-octet node id and a message. Returns 1 if it was relayed.
 */
uint8_t bridge_from_radio(const uint8_t *packet, uint8_t len, slip_put_fn put,
                          void *ctx);

/*
 * One byte from the Pi. When it completes a frame with a good CRC that is a
 * forwarder encapsulation for one node (2-octet id, not broadcast) and fits
 * the radio, returns the packet's length (the packet is rx->buf, sent as is)
 * and sets *node to its id (little-endian on the wire); otherwise 0.
 */
uint8_t bridge_from_pi(slip_rx *rx, uint8_t byte, uint16_t *node);

#ifdef __cplusplus
}
#endif

#endif
