/* A UDP transport for the MQTT-SN client on a POSIX host; see udp_transport.h. */
#define _POSIX_C_SOURCE 200809L

#include "udp_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int udp_send(void *ctx, const uint8_t *buf, uint8_t len, uint8_t broadcast)
{
    struct udp *u = ctx;
    (void)broadcast;
    return sendto(u->fd, buf, len, 0, (const struct sockaddr *)&u->gateway,
                  sizeof u->gateway) == (ssize_t)len
               ? 0
               : -1;
}

uint8_t udp_recv(void *ctx, uint8_t *buf, uint8_t cap)
{
    struct udp *u = ctx;
    struct pollfd p;
    ssize_t n;
    p.fd = u->fd;
    p.events = POLLIN;
    if (poll(&p, 1, 5) <= 0) {
        return 0;
    }
    n = recv(u->fd, buf, cap, 0);
    return n > 0 ? (uint8_t)n : 0;
}

uint32_t udp_now(void *ctx)
{
    struct timespec t;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)(t.tv_sec * 1000u + t.tv_nsec / 1000000);
}

int udp_open(struct udp *u, uint16_t port)
{
    memset(u, 0, sizeof *u);
    u->fd = socket(AF_INET, SOCK_DGRAM, 0);
    u->gateway.sin_family = AF_INET;
    u->gateway.sin_port = htons(port);
    u->gateway.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return u->fd < 0 ? -1 : 0;
}
