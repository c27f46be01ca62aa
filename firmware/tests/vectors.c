/*
 * Unit tests of the firmware library on the host: the codec and both
 * framings against the byte vectors of shared/notes/radio.md (computed with
 * Paho's MQTTSNPacket, digi-xbee and sliplib), and the client's state
 * machine against a scripted transport with a simulated clock.
 *
 * Prints one line per failed check and "N passed, N failed" last; exits 1
 * on any failure. Run by tests/40_firmware.rs.
 */
#include <stdio.h>
#include <string.h>

#include "bridge_relay.h"
#include "mqttsn.h"
#include "sensor_cycle.h"
#include "slip.h"
#include "xbee_api.h"

static int passed, failed;

static void check(int ok, const char *what, int line)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAILED line %d: %s\n", line, what);
    }
}
#define CHECK(cond) check(!!(cond), #cond, __LINE__)

static void dump(const char *label, const uint8_t *b, size_t n)
{
    size_t i;
    printf("  %s:", label);
    for (i = 0; i < n; i++) {
        printf(" %02X", b[i]);
    }
    printf("\n");
}

static void check_bytes(const uint8_t *got, size_t got_len,
                        const uint8_t *want, size_t want_len, int line)
{
    int ok = got_len == want_len && memcmp(got, want, want_len) == 0;
    check(ok, "bytes equal", line);
    if (!ok) {
        dump("got ", got, got_len);
        dump("want", want, want_len);
    }
}
#define BYTES(got, n, ...)                                                   \
    do {                                                                     \
        static const uint8_t want_[] = {__VA_ARGS__};                        \
        check_bytes((got), (n), want_, sizeof want_, __LINE__);              \
    } while (0)

/* ---- a byte sink for the framings ---- */
static uint8_t out[512];
static size_t out_len;
static void sink(void *ctx, uint8_t b)
{
    (void)ctx;
    if (out_len < sizeof out) {
        out[out_len++] = b;
    }
}

static void test_codec(void)
{
    uint8_t b[64];
    uint8_t n;
    msn_msg m;
    static const uint8_t r215[] = {'2', '1', '.', '5'};

    /* §4.2 of the notes: a minimal node's messages */
    n = msn_enc_searchgw(b, sizeof b, 1);
    BYTES(b, n, 0x03, 0x01, 0x01);
    n = msn_enc_connect(b, sizeof b, MSN_FLAG_CLEAN, 60, "node1");
    BYTES(b, n, 0x0B, 0x04, 0x04, 0x01, 0x00, 0x3C, 0x6E, 0x6F, 0x64, 0x65,
          0x31);
    n = msn_enc_register(b, sizeof b, 1, "home/t");
    BYTES(b, n, 0x0C, 0x0A, 0x00, 0x00, 0x00, 0x01, 0x68, 0x6F, 0x6D, 0x65,
          0x2F, 0x74);
    n = msn_enc_publish(b, sizeof b, MSN_FLAG_QOS0, 1, 0, r215, 4);
    BYTES(b, n, 0x0B, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, 0x32, 0x31, 0x2E,
          0x35);
    n = msn_enc_publish(b, sizeof b, MSN_FLAG_QOS1, 0x0013, 0x7E7D,
                        (const uint8_t *)"on", 2);
    BYTES(b, n, 0x09, 0x0C, 0x20, 0x00, 0x13, 0x7E, 0x7D, 0x6F, 0x6E);
    n = msn_enc_publish(b, sizeof b, MSN_FLAG_QOS_M1 | MSN_TOPIC_PREDEFINED,
                        5, 0, (const uint8_t *)"ON!", 3);
    BYTES(b, n, 0x0A, 0x0C, 0x61, 0x00, 0x05, 0x00, 0x00, 0x4F, 0x4E, 0x21);
    n = msn_enc_disconnect(b, sizeof b, 3600);
    BYTES(b, n, 0x04, 0x18, 0x0E, 0x10);
    n = msn_enc_disconnect(b, sizeof b, 0);
    BYTES(b, n, 0x02, 0x18);
    n = msn_enc_pingreq(b, sizeof b, "node1");
    BYTES(b, n, 0x07, 0x16, 0x6E, 0x6F, 0x64, 0x65, 0x31);
    n = msn_enc_pingreq(b, sizeof b, NULL);
    BYTES(b, n, 0x02, 0x16);
    n = msn_enc_willtopic(b, sizeof b, MSN_FLAG_QOS1 | MSN_FLAG_RETAIN, "s");
    BYTES(b, n, 0x04, 0x07, 0x30, 0x73);
    n = msn_enc_willmsg(b, sizeof b, (const uint8_t *)"x", 1);
    BYTES(b, n, 0x03, 0x09, 0x78);
    n = msn_enc_regack(b, sizeof b, 0x0102, 0x0304, 0);
    BYTES(b, n, 0x07, 0x0B, 0x01, 0x02, 0x03, 0x04, 0x00);
    n = msn_enc_puback(b, sizeof b, 0x7474, 1, 0);
    BYTES(b, n, 0x07, 0x0D, 0x74, 0x74, 0x00, 0x01, 0x00);
    n = msn_enc_subscribe(b, sizeof b, MSN_FLAG_QOS1, 2, "a/#", 0);
    BYTES(b, n, 0x08, 0x12, 0x20, 0x00, 0x02, 0x61, 0x2F, 0x23);
    n = msn_enc_subscribe(b, sizeof b, MSN_FLAG_QOS0 | MSN_TOPIC_PREDEFINED,
                          3, NULL, 7);
    BYTES(b, n, 0x07, 0x12, 0x01, 0x00, 0x03, 0x00, 0x07);
    /* too small a buffer: nothing */
    CHECK(msn_enc_connect(b, 10, 0, 60, "node1") == 0);
    CHECK(msn_enc_publish(b, 10, 0, 1, 0, r215, 4) == 0);

    /* the forwarder header, as in the SLIP vector */
    n = msn_fwd_header(b, sizeof b, 0x01, (const uint8_t *)"\x05\x00", 2);
    BYTES(b, n, 0x05, 0xFE, 0x01, 0x05, 0x00);
    {
        static const uint8_t fe[] = {0x05, 0xFE, 0x01, 0xC0, 0xDB, 0x03,
                                     0x05, 0x00};
        const uint8_t *id = NULL;
        uint8_t ctrl = 0, id_len = 0;
        CHECK(msn_fwd_unwrap(fe, sizeof fe, &ctrl, &id, &id_len) == 5);
        CHECK(ctrl == 1 && id_len == 2 && id[0] == 0xC0 && id[1] == 0xDB);
        CHECK(msn_fwd_unwrap(fe, 5, NULL, NULL, NULL) == 0); /* no message */
        CHECK(msn_fwd_unwrap(fe + 3, 5, NULL, NULL, NULL) == 0);
    }

    /* parsing what a gateway sends */
    CHECK(msn_parse((const uint8_t *)"\x03\x05\x00", 3, &m));
    CHECK(m.type == MSN_CONNACK && m.rc == 0);
    CHECK(msn_parse((const uint8_t *)"\x03\x02\x01", 3, &m));
    CHECK(m.type == MSN_GWINFO && m.data_len == 1 && m.data[0] == 1);
    CHECK(msn_parse((const uint8_t *)"\x07\x0B\x00\x01\x00\x01\x00", 7, &m));
    CHECK(m.type == MSN_REGACK && m.topic_id == 1 && m.msg_id == 1 &&
          m.rc == 0);
    CHECK(msn_parse((const uint8_t *)"\x07\x0D\x74\x74\x00\x01\x02", 7, &m));
    CHECK(m.type == MSN_PUBACK && m.topic_id == 0x7474 && m.msg_id == 1 &&
          m.rc == MSN_RC_INVALID_TOPIC);
    {
        static const uint8_t pub[] = {0x09, 0x0C, 0x20, 0x00, 0x13,
                                      0x7E, 0x7D, 0x6F, 0x6E};
        CHECK(msn_parse(pub, sizeof pub, &m));
        CHECK(m.type == MSN_PUBLISH && m.flags == 0x20 &&
              m.topic_id == 0x13 && m.msg_id == 0x7E7D && m.data_len == 2 &&
              memcmp(m.data, "on", 2) == 0);
    }
    CHECK(msn_parse((const uint8_t *)"\x0A\x0A\x00\x05\x00\x09\x63\x6D\x64\x2F",
                    10, &m));
    CHECK(m.type == MSN_REGISTER && m.topic_id == 5 && m.msg_id == 9 &&
          m.data_len == 4 && memcmp(m.data, "cmd/", 4) == 0);
    CHECK(msn_parse((const uint8_t *)"\x08\x13\x20\x00\x07\x00\x02\x00", 8,
                    &m));
    CHECK(m.type == MSN_SUBACK && m.flags == 0x20 && m.topic_id == 7 &&
          m.msg_id == 2 && m.rc == 0);
    CHECK(msn_parse((const uint8_t *)"\x04\x0F\x12\x34", 4, &m));
    CHECK(m.type == MSN_PUBREC && m.msg_id == 0x1234);
    CHECK(msn_parse((const uint8_t *)"\x05\x00\x01\x03\x84", 5, &m));
    CHECK(m.type == MSN_ADVERTISE && m.data[0] == 1);
    CHECK(msn_parse((const uint8_t *)"\x02\x17", 2, &m) &&
          m.type == MSN_PINGRESP);
    /* malformed: short, truncated, unknown, the 3-octet length form */
    CHECK(!msn_parse((const uint8_t *)"\x02", 1, &m));
    CHECK(!msn_parse((const uint8_t *)"\x07\x0D\x00", 3, &m));
    CHECK(!msn_parse((const uint8_t *)"\x04\x0D\x00\x01", 4, &m));
    CHECK(!msn_parse((const uint8_t *)"\x02\x99", 2, &m));
    CHECK(!msn_parse((const uint8_t *)"\x01\x00\x05\x05\x00", 5, &m));
}

static void test_xbee(void)
{
    static const uint8_t node[8] = {0x00, 0x13, 0xA2, 0x00,
                                    0x41, 0xB2, 0xC3, 0xD4};
    xbee_rx rx;
    const uint8_t *data = NULL;
    uint16_t n = 0;
    size_t i;

    /* Digi's example: 0x11 in the data is escaped */
    out_len = 0;
    xbee_write_frame(sink, NULL, (const uint8_t *)"\x23\x11", 2, NULL, 0);
    BYTES(out, out_len, 0x7E, 0x00, 0x02, 0x23, 0x7D, 0x31, 0xCB);
    /* Digi's Remote AT example, escaped */
    out_len = 0;
    {
        static const uint8_t at[] = {0x17, 0x01, 0x00, 0x13, 0xA2, 0x00,
                                     0x40, 0xAD, 0x14, 0x2E, 0xFF, 0xFE,
                                     0x02, 0x4E, 0x49};
        xbee_write_frame(sink, NULL, at, sizeof at, NULL, 0);
    }
    BYTES(out, out_len, 0x7E, 0x00, 0x0F, 0x17, 0x01, 0x00, 0x7D, 0x33, 0xA2,
          0x00, 0x40, 0xAD, 0x14, 0x2E, 0xFF, 0xFE, 0x02, 0x4E, 0x49, 0x6D);
    /* TX broadcast GWINFO, AP=2: LEN 0x11 itself escaped */
    out_len = 0;
    xbee_write_tx(sink, NULL, 2, xbee_broadcast, 0xFFFE,
                  (const uint8_t *)"\x03\x02\x01", 3);
    BYTES(out, out_len, 0x7E, 0x00, 0x7D, 0x31, 0x10, 0x02, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00, 0x03, 0x02,
          0x01, 0xEC);
    /* TX unicast CONNACK (the notes' AP=1 frame, 0x11 and 0x13 escaped) */
    out_len = 0;
    xbee_write_tx(sink, NULL, 1, node, 0x1A2B, (const uint8_t *)"\x03\x05\x00",
                  3);
    BYTES(out, out_len, 0x7E, 0x00, 0x7D, 0x31, 0x10, 0x01, 0x00, 0x7D, 0x33,
          0xA2, 0x00, 0x41, 0xB2, 0xC3, 0xD4, 0x1A, 0x2B, 0x00, 0x00, 0x03,
          0x05, 0x00, 0x62);
    /* Digi's TX "TxData0A": its checksum 0x13 is escaped too */
    out_len = 0;
    {
        static const uint8_t dest[8] = {0x00, 0x13, 0xA2, 0x00,
                                        0x40, 0x0A, 0x01, 0x27};
        xbee_write_tx(sink, NULL, 1, dest, 0xFFFE,
                      (const uint8_t *)"TxData0A", 8);
    }
    BYTES(out, out_len, 0x7E, 0x00, 0x16, 0x10, 0x01, 0x00, 0x7D, 0x33, 0xA2,
          0x00, 0x40, 0x0A, 0x01, 0x27, 0xFF, 0xFE, 0x00, 0x00, 0x54, 0x78,
          0x44, 0x61, 0x74, 0x61, 0x30, 0x41, 0x7D, 0x33);

    /* RX 0x90 AP=2 with six escapes, after junk; then an AP=1-style frame
     * with a raw 0x13 (accepted), a corrupt frame, a 0x8B and a broadcast */
    {
        static const uint8_t stream[] = {
            0x11, 0x00, 0x7D,
            0x7E, 0x00, 0x15, 0x90, 0x00, 0x7D, 0x33, 0xA2, 0x00, 0x41, 0xB2,
            0xC3, 0xD4, 0x7D, 0x5D, 0x7D, 0x31, 0x01, 0x09, 0x0C, 0x20, 0x00,
            0x7D, 0x33, 0x7D, 0x5E, 0x7D, 0x5D, 0x6F, 0x6E, 0x81,
            0x7E, 0x00, 0x17, 0x90, 0x00, 0x13, 0xA2, 0x00, 0x41, 0xB2, 0xC3,
            0xD4, 0x1A, 0x2B, 0x01, 0x0B, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00,
            0x32, 0x31, 0x2E, 0x35, 0x0C,
            0x7E, 0x00, 0x17, 0x90, 0x00, 0x13, 0xA2, 0x00, 0x41, 0xB2, 0xC3,
            0xD4, 0x1A, 0x2B, 0x01, 0x0B, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00,
            0x32, 0x31, 0x2E, 0x36, 0x0C,
            0x7E, 0x00, 0x07, 0x8B, 0x01, 0x1A, 0x2B, 0x00, 0x00, 0x00, 0x2E,
            0x7E, 0x00, 0x16, 0x90, 0x00, 0x7D, 0x33, 0xA2, 0x00, 0x41, 0xB2,
            0xC3, 0xD4, 0x1A, 0x2B, 0x02, 0x0A, 0x0C, 0x61, 0x00, 0x05, 0x00,
            0x00, 0x4F, 0x4E, 0x21, 0xAF};
        uint16_t lens[8];
        uint8_t frames = 0;
        xbee_rx_init(&rx);
        for (i = 0; i < sizeof stream; i++) {
            uint16_t got = xbee_rx_byte(&rx, stream[i]);
            if (got && frames < 8) {
                lens[frames] = got;
                if (frames == 0) {
                    n = xbee_rx_packet(&rx, got, &data);
                    BYTES(data, n, 0x09, 0x0C, 0x20, 0x00, 0x13, 0x7E, 0x7D,
                          0x6F, 0x6E);
                } else if (frames == 1) {
                    n = xbee_rx_packet(&rx, got, &data);
                    BYTES(data, n, 0x0B, 0x0C, 0x00, 0x00, 0x01, 0x00, 0x00,
                          0x32, 0x31, 0x2E, 0x35);
                } else if (frames == 2) {
                    CHECK(rx.frame[0] == 0x8B);
                    CHECK(xbee_rx_packet(&rx, got, &data) == 0);
                } else {
                    n = xbee_rx_packet(&rx, got, &data);
                    BYTES(data, n, 0x0A, 0x0C, 0x61, 0x00, 0x05, 0x00, 0x00,
                          0x4F, 0x4E, 0x21);
                }
                frames++;
            }
        }
        /* the frame with a bad checksum ("21.6") is not among them */
        CHECK(frames == 4);
        CHECK(lens[0] == 0x15 && lens[2] == 7);
    }
    /* split anywhere, a frame still comes out whole: feed byte by byte after
     * a cut frame (the raw 0x7E resynchronises) */
    {
        static const uint8_t cut_then_whole[] = {
            0x7E, 0x00, 0x07, 0x8B, 0x01,
            0x7E, 0x00, 0x02, 0x8A, 0x02, 0x73};
        uint8_t got = 0;
        xbee_rx_init(&rx);
        for (i = 0; i < sizeof cut_then_whole; i++) {
            if (xbee_rx_byte(&rx, cut_then_whole[i]) == 2) {
                got = rx.frame[1];
            }
        }
        CHECK(got == 0x02); /* modem status "joined" */
    }
}

static void test_slip(void)
{
    static const uint8_t fe5[] = {0x05, 0xFE, 0x01, 0x05, 0x00};
    static const uint8_t pub[] = {0x0B, 0x0C, 0x00, 0x00, 0x01, 0x00,
                                  0x00, 0x32, 0x31, 0x2E, 0x35};
    static const uint8_t fe_esc[] = {0x05, 0xFE, 0x01, 0xC0, 0xDB};
    static const uint8_t empty_pub[] = {0x07, 0x0C, 0x00, 0x00, 0x01, 0x00,
                                        0x00};
    slip_rx rx;
    size_t i;
    uint8_t n = 0;

    CHECK(crc16_xmodem(0, (const uint8_t *)"123456789", 9) == 0x31C3);
    CHECK(crc16_xmodem(crc16_xmodem(0, fe5, 5), pub, sizeof pub) == 0xBA92);
    out_len = 0;
    slip_write(sink, NULL, fe5, sizeof fe5, pub, sizeof pub);
    BYTES(out, out_len, 0xC0, 0x05, 0xFE, 0x01, 0x05, 0x00, 0x0B, 0x0C, 0x00,
          0x00, 0x01, 0x00, 0x00, 0x32, 0x31, 0x2E, 0x35, 0x92, 0xBA, 0xC0);
    out_len = 0;
    slip_write(sink, NULL, fe_esc, sizeof fe_esc, empty_pub, sizeof empty_pub);
    BYTES(out, out_len, 0xC0, 0x05, 0xFE, 0x01, 0xDB, 0xDC, 0xDB, 0xDD, 0x07,
          0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x25, 0xC0);

    /* reading it back, after a corrupt frame and an empty one */
    slip_rx_init(&rx);
    {
        static const uint8_t bad[] = {0xC0, 0x05, 0xFE, 0x01, 0x05,
                                      0x00, 0x99, 0x92, 0xBA, 0xC0, 0xC0};
        for (i = 0; i < sizeof bad; i++) {
            CHECK(slip_rx_byte(&rx, bad[i]) == 0);
        }
    }
    for (i = 0; i < out_len; i++) {
        uint8_t got = slip_rx_byte(&rx, out[i]);
        if (got) {
            n = got;
        }
    }
    BYTES(rx.buf, n, 0x05, 0xFE, 0x01, 0xC0, 0xDB, 0x07, 0x0C, 0x00, 0x00,
          0x01, 0x00, 0x00);
    /* an oversized frame is dropped, and the next one is read */
    for (i = 0; i < SLIP_RX_MAX + 10; i++) {
        CHECK(slip_rx_byte(&rx, 0x55) == 0);
    }
    CHECK(slip_rx_byte(&rx, SLIP_END) == 0);
    n = 0;
    for (i = 0; i < out_len; i++) {
        uint8_t got = slip_rx_byte(&rx, out[i]);
        if (got) {
            n = got;
        }
    }
    CHECK(n == 12);
}

/* The serial bridge: radio packets to the notes' SLIP frames, and back. */
static void test_bridge(void)
{
    static const uint8_t fe5_pub[] = {0x05, 0xFE, 0x01, 0x05, 0x00, 0x0B,
                                      0x0C, 0x00, 0x00, 0x01, 0x00, 0x00,
                                      0x32, 0x31, 0x2E, 0x35};
    static const uint8_t fe_esc[] = {0x05, 0xFE, 0x01, 0xC0, 0xDB, 0x07,
                                     0x0C, 0x00, 0x00, 0x01, 0x00, 0x00};
    static const uint8_t frame5[] = {0xC0, 0x05, 0xFE, 0x01, 0x05, 0x00, 0x0B,
                                     0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, 0x32,
                                     0x31, 0x2E, 0x35, 0x92, 0xBA, 0xC0};
    slip_rx rx;
    uint16_t node = 0;
    uint8_t got = 0;
    size_t i;

    out_len = 0;
    CHECK(bridge_from_radio(fe5_pub, sizeof fe5_pub, sink, NULL));
    check_bytes(out, out_len, frame5, sizeof frame5, __LINE__);
    out_len = 0;
    CHECK(bridge_from_radio(fe_esc, sizeof fe_esc, sink, NULL));
    BYTES(out, out_len, 0xC0, 0x05, 0xFE, 0x01, 0xDB, 0xDC, 0xDB, 0xDD, 0x07,
          0x0C, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x25, 0xC0);
    /* not relayed: a bare message, a 1-octet node id, a header alone */
    out_len = 0;
    CHECK(!bridge_from_radio(fe5_pub + 5, sizeof fe5_pub - 5, sink, NULL));
    CHECK(!bridge_from_radio((const uint8_t *)"\x04\xFE\x01\x05\x02\x17",
                             6, sink, NULL));
    CHECK(!bridge_from_radio(fe5_pub, 5, sink, NULL));
    CHECK(out_len == 0);

    /* from the Pi: the notes' frame is for node 5, its packet sent as is */
    slip_rx_init(&rx);
    for (i = 0; i < sizeof frame5; i++) {
        uint8_t n = bridge_from_pi(&rx, frame5[i], &node);
        if (n) {
            got = n;
        }
    }
    CHECK(got == sizeof fe5_pub && node == 5);
    CHECK(memcmp(rx.buf, fe5_pub, sizeof fe5_pub) == 0);
    /* escaped node id C0 DB, little-endian: node 0xDBC0 */
    got = 0;
    out_len = 0;
    bridge_from_radio(fe_esc, sizeof fe_esc, sink, NULL);
    for (i = 0; i < out_len; i++) {
        uint8_t n = bridge_from_pi(&rx, out[i], &node);
        if (n) {
            got = n;
        }
    }
    CHECK(got == sizeof fe_esc && node == 0xDBC0);
    /* dropped: a bad CRC, the broadcast id, more than the radio carries */
    {
        uint8_t bad[sizeof frame5];
        static const uint8_t bcast[] = {0x05, 0xFE, 0x01, 0xFF, 0xFF,
                                        0x02, 0x17};
        uint8_t big[40];
        memcpy(bad, frame5, sizeof bad);
        bad[8] ^= 1;
        got = 0;
        for (i = 0; i < sizeof bad; i++) {
            got |= bridge_from_pi(&rx, bad[i], &node);
        }
        out_len = 0;
        slip_write(sink, NULL, bcast, sizeof bcast, NULL, 0);
        memset(big, 0x41, sizeof big);
        memcpy(big, fe5_pub, 5);
        big[5] = (uint8_t)(sizeof big - 5);
        big[6] = 0x0C;
        slip_write(sink, NULL, big, sizeof big, NULL, 0);
        for (i = 0; i < out_len; i++) {
            got |= bridge_from_pi(&rx, out[i], &node);
        }
        CHECK(got == 0);
    }
}

static void test_format(void)
{
    char t[8];
    uint8_t n;
    n = format_tenths(t, 215);
    CHECK(n == 4 && memcmp(t, "21.5", 4) == 0);
    n = format_tenths(t, -3);
    CHECK(n == 4 && memcmp(t, "-0.3", 4) == 0);
    n = format_tenths(t, 0);
    CHECK(n == 3 && memcmp(t, "0.0", 3) == 0);
    n = format_tenths(t, 1000);
    CHECK(n == 5 && memcmp(t, "100.0", 5) == 0);
    n = format_tenths(t, -32768);
    CHECK(n == 7 && memcmp(t, "-3276.8", 7) == 0);
}

#include "client_tests.inc"

int main(void)
{
    test_codec();
    test_xbee();
    test_slip();
    test_client();
    test_format();
    test_bridge();
    test_noise();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
