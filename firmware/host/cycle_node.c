/*
 * The ESP and LoRa sketches' sensor cycle (sketches/common/sensor_cycle.c)
 * on a Linux host over UDP, driven by tests/40_firmware.rs.
 *
 * Usage: cycle_node PORT CLIENT_ID
 *
 * First cycle: a fresh session, subscribed to the ESP command topic, two
 * readings; prints "cycle 0" and "asleep", then waits for a line on stdin
 * (the test publishes a command meanwhile). Second cycle: the session
 * resumed, the command handed over ("got ..."), two more readings.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mqttsn.h"
#include "sensor_cycle.h"
#include "udp_transport.h"
#include "wren_topics.h"

static void on_publish(void *ctx, uint16_t topic_id, uint8_t flags,
                       const uint8_t *payload, uint8_t len)
{
    (void)ctx;
    printf("got %u %d %.*s\n", topic_id, (flags & MSN_FLAG_QOS_MASK) >> 5,
           (int)len, (const char *)payload);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static struct udp u;
    static msn_transport io = {&u, udp_send, udp_recv, udp_now};
    static msn_client c;
    static const sensor_reading first[] = {
        {WREN_TOPIC_ESP_TEMPERATURE, 215}, {WREN_TOPIC_ESP_HUMIDITY, 480}};
    static const sensor_reading second[] = {
        {WREN_TOPIC_ESP_TEMPERATURE, -35}, {WREN_TOPIC_ESP_HUMIDITY, 1000}};
    char line[16];
    if (argc < 3 || udp_open(&u, (uint16_t)atoi(argv[1]))) {
        fprintf(stderr, "usage: %s PORT CLIENT_ID\n", argv[0]);
        return 64;
    }
    msn_init(&c, &io, argv[2], 60);
    c.t_retry_ms = 1000;
    msn_set_callbacks(&c, on_publish, NULL, NULL);
    printf("cycle %d\n", sensor_cycle(&c, 1, WREN_TOPIC_ESP_COMMAND,
                                      MSN_FLAG_QOS1, first, 2, 60));
    printf("asleep\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) {
        return 3;
    }
    printf("cycle %d\n", sensor_cycle(&c, 0, WREN_TOPIC_ESP_COMMAND,
                                      MSN_FLAG_QOS1, second, 2, 60));
    return 0;
}
