/*
 * The firmware client on a Linux host: a sensor node over UDP, driven by
 * tests/40_firmware.rs against the real gateway on 127.0.0.1.
 *
 * Usage: udp_node PORT CLIENT_ID PREDEFINED_ID [FORWARDER_NODE_ID]
 *
 * Runs the node's whole life and prints one line per step ("connack 0",
 * "got 7 hello", ...) for the test to check: search, connect with a will,
 * register, publish at QoS 0, 1 and -1, subscribe, receive, keep-alive
 * ping, sleep; then it prints "asleep" and waits for a line on stdin (the
 * test publishes meanwhile), wakes and drains, reconnects and leaves. With
 * a forwarder node id every message goes in the 0xFE encapsulation.
 *
 * With NODE_VANISH=1 in the environment it connects with a 1 s keep-alive
 * and exits right after CONNACK, silently: the gateway must publish its will.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqttsn.h"
#include "udp_transport.h"

static void on_publish(void *ctx, uint16_t topic_id, uint8_t flags,
                       const uint8_t *payload, uint8_t len)
{
    (void)ctx;
    printf("got %u %d %.*s\n", topic_id, (flags & MSN_FLAG_QOS_MASK) >> 5,
           (int)len, (const char *)payload);
    fflush(stdout);
}

static void on_register(void *ctx, uint16_t topic_id, const uint8_t *name,
                        uint8_t len)
{
    (void)ctx;
    printf("register %u %.*s\n", topic_id, (int)len, (const char *)name);
    fflush(stdout);
}

static void say(const char *step, int rc)
{
    printf("%s %d\n", step, rc);
    fflush(stdout);
    if (rc < 0) {
        exit(2);
    }
}

int main(int argc, char **argv)
{
    static struct udp u;
    static msn_transport io = {&u, udp_send, udp_recv, udp_now};
    static msn_client c;
    static char will_topic[64], temp[64], cmd[64];
    static const uint8_t gone[] = {'g', 'o', 'n', 'e'};
    uint16_t temp_id = 0, cmd_id = 0;
    uint16_t predefined;
    int vanish;
    uint32_t start;
    char line[16];
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CLIENT_ID PREDEFINED_ID [NODE_ID]\n",
                argv[0]);
        return 64;
    }
    predefined = (uint16_t)atoi(argv[3]);
    if (udp_open(&u, (uint16_t)atoi(argv[1]))) {
        return 1;
    }
    snprintf(will_topic, sizeof will_topic, "fw/%s/status", argv[2]);
    snprintf(temp, sizeof temp, "fw/%s/temp", argv[2]);
    snprintf(cmd, sizeof cmd, "fw/%s/cmd", argv[2]);

    vanish = getenv("NODE_VANISH") != NULL;
    msn_init(&c, &io, argv[2], vanish ? 1 : 30);
    c.t_retry_ms = 1000;
    msn_set_callbacks(&c, on_publish, on_register, NULL);
    if (argc > 4) {
        uint16_t node = (uint16_t)atoi(argv[4]);
        uint8_t id[2];
        id[0] = (uint8_t)node; /* little-endian, as on the serial bridge */
        id[1] = (uint8_t)(node >> 8);
        msn_set_forwarder(&c, id, 2);
    }
    say("searchgw", msn_searchgw(&c, 1));
    printf("gwinfo %u\n", c.gw_id);
    msn_set_will(&c, will_topic, gone, sizeof gone, MSN_FLAG_QOS1);
    say("connack", msn_connect(&c, 1));
    if (vanish) {
        return 0;
    }
    say("regack", msn_register(&c, temp, &temp_id));
    printf("topic %u\n", temp_id);
    say("qos0", msn_publish(&c, MSN_FLAG_QOS0, temp_id,
                            (const uint8_t *)"21.5", 4));
    say("qos1", msn_publish(&c, MSN_FLAG_QOS1, temp_id,
                            (const uint8_t *)"22.5", 4));
    say("qos-1", msn_publish(&c, MSN_FLAG_QOS_M1 | MSN_TOPIC_PREDEFINED,
                             predefined, (const uint8_t *)"23.5", 4));
    say("suback", msn_subscribe(&c, MSN_FLAG_QOS1, cmd, 0, &cmd_id));
    printf("subscribed %u\n", cmd_id);
    fflush(stdout);
    /* The test publishes to the command topic now. */
    start = udp_now(NULL);
    while (c.received == 0 && udp_now(NULL) - start < 5000) {
        if (msn_loop(&c) < 0) {
            say("loop", -1);
        }
    }
    say("received", c.received);
    say("ping", msn_ping(&c));
    say("sleep", msn_disconnect(&c, 60));
    printf("asleep\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) {
        return 3;
    }
    say("woke", msn_wake(&c));
    say("connack", msn_connect(&c, 0));
    say("bye", msn_disconnect(&c, 0));
    close(u.fd);
    return 0;
}
