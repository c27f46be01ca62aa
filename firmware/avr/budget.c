/*
 * The size budget check: a bare ATmega328P program (avr-libc, no Arduino
 * core) that uses every operation of the MQTT-SN client and the XBee API
 * framing, so `avr-size` of it bounds what a node pays for them.
 */
#include <avr/io.h>

#include "mqttsn.h"
#include "xbee_api.h"

static xbee_rx rx;
static uint32_t ticks;

static void uart_put(void *ctx, uint8_t b)
{
    (void)ctx;
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    UDR0 = b;
}

static int send(void *ctx, const uint8_t *buf, uint8_t len, uint8_t bcast)
{
    xbee_write_tx(uart_put, ctx, 0, bcast ? xbee_broadcast : xbee_coordinator,
                  0xFFFE, buf, len);
    return 0;
}

static uint8_t recv(void *ctx, uint8_t *buf, uint8_t cap)
{
    (void)ctx;
    while (UCSR0A & (1 << RXC0)) {
        uint16_t n = xbee_rx_byte(&rx, UDR0);
        const uint8_t *data;
        uint8_t len = n ? xbee_rx_packet(&rx, n, &data) : 0;
        if (len && len <= cap) {
            uint8_t i;
            for (i = 0; i < len; i++) {
                buf[i] = data[i];
            }
            return len;
        }
    }
    return 0;
}

static uint32_t now_ms(void *ctx)
{
    (void)ctx;
    return ++ticks;
}

static void on_publish(void *ctx, uint16_t id, uint8_t flags,
                       const uint8_t *p, uint8_t len)
{
    (void)ctx;
    (void)flags;
    PORTB = (uint8_t)(id + (len ? p[0] : 0));
}

static void on_register(void *ctx, uint16_t id, const uint8_t *name,
                        uint8_t len)
{
    (void)ctx;
    (void)name;
    PORTD = (uint8_t)(id + len);
}

static const msn_transport io = {0, send, recv, now_ms};
static msn_client client;

int main(void)
{
    uint16_t topic = 0;
    static const uint8_t node[2] = {5, 0};
    static const uint8_t dead[] = "offline";
    msn_init(&client, &io, "node1", 60);
    msn_set_callbacks(&client, on_publish, on_register, 0);
    msn_set_will(&client, "n/1/status", dead, 7, MSN_FLAG_QOS1);
    if (PINB & 1) {
        msn_set_forwarder(&client, node, 2);
    }
    msn_searchgw(&client, 1);
    msn_connect(&client, 1);
    msn_register(&client, "n/1/t", &topic);
    msn_publish(&client, MSN_FLAG_QOS0, topic, (const uint8_t *)"21.5", 4);
    msn_publish(&client, MSN_FLAG_QOS1, topic, (const uint8_t *)"21.5", 4);
    msn_publish(&client, MSN_FLAG_QOS_M1 | MSN_TOPIC_PREDEFINED, 3,
                (const uint8_t *)"21.5", 4);
    msn_subscribe(&client, MSN_FLAG_QOS1, "n/1/cmd", 0, &topic);
    msn_ping(&client);
    msn_loop(&client);
    msn_disconnect(&client, 300);
    msn_wake(&client);
    msn_disconnect(&client, 0);
    for (;;) {
    }
}
