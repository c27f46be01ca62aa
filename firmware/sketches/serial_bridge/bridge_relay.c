/* The serial bridge's relay rules; see bridge_relay.h. */
#include "bridge_relay.h"

#include <stddef.h>

#include "mqttsn_codec.h"

/* The node id of a well-formed encapsulation with a 2-octet id, or 0 (no). */
static uint8_t node_of(const uint8_t *packet, uint8_t len, uint16_t *node)
{
    const uint8_t *id = NULL;
    uint8_t id_len = 0;
    uint8_t h = msn_fwd_unwrap(packet, len, NULL, &id, &id_len);
    /* a message must follow the header: at least Length and MsgType */
    if (!h || id_len != 2 || len < (uint8_t)(h + 2)) {
        return 0;
    }
    *node = (uint16_t)(id[0] | id[1] << 8);
    return 1;
}

uint8_t bridge_from_radio(const uint8_t *packet, uint8_t len, slip_put_fn put,
                          void *ctx)
{
    uint16_t node;
    if (!node_of(packet, len, &node)) {
        return 0;
    }
    slip_write(put, ctx, packet, len, NULL, 0);
    return 1;
}

uint8_t bridge_from_pi(slip_rx *rx, uint8_t byte, uint16_t *node)
{
    uint8_t len = slip_rx_byte(rx, byte);
    if (!len || len > BRIDGE_MAX_PACKET || !node_of(rx->buf, len, node) ||
        *node == BRIDGE_BROADCAST) {
        return 0;
    }
    return len;
}
