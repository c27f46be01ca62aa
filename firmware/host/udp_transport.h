/*
 * The host harnesses' transport: one UDP socket talking to the gateway on
 * 127.0.0.1, the three functions an msn_transport needs.
 */
#ifndef UDP_TRANSPORT_H
#define UDP_TRANSPORT_H

#include <netinet/in.h>
#include <stdint.h>

struct udp {
    int fd;
    struct sockaddr_in gateway;
};

/* Opens a socket for the gateway at 127.0.0.1:port; -1 on failure. */
int udp_open(struct udp *u, uint16_t port);
/* msn_transport.send: no broadcast on loopback, SEARCHGW goes to the port. */
int udp_send(void *ctx, const uint8_t *buf, uint8_t len, uint8_t broadcast);
/* msn_transport.recv: waits up to 5 ms, so polling does not spin a core. */
uint8_t udp_recv(void *ctx, uint8_t *buf, uint8_t cap);
/* msn_transport.now_ms: the monotonic clock. */
uint32_t udp_now(void *ctx);

#endif
