/*
 * MQTT-SN v1.2 messages as bytes: encoders for what a sensor node sends and
 * one parser for what it receives, plus the forwarder encapsulation (§5.5).
 *
 * Portable C99, no allocation, no I/O: every function works on a caller's
 * buffer. Only the 1-octet Length form is produced or accepted (messages up
 * to 255 octets), which is all a node with a radio frame of 32 to 255 octets
 * can carry.
 */
#ifndef MQTTSN_CODEC_H
#define MQTTSN_CODEC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types (§5.2.2). */
enum msn_type {
    MSN_ADVERTISE = 0x00,
    MSN_SEARCHGW = 0x01,
    MSN_GWINFO = 0x02,
    MSN_CONNECT = 0x04,
    MSN_CONNACK = 0x05,
    MSN_WILLTOPICREQ = 0x06,
    MSN_WILLTOPIC = 0x07,
    MSN_WILLMSGREQ = 0x08,
    MSN_WILLMSG = 0x09,
    MSN_REGISTER = 0x0A,
    MSN_REGACK = 0x0B,
    MSN_PUBLISH = 0x0C,
    MSN_PUBACK = 0x0D,
    MSN_PUBCOMP = 0x0E,
    MSN_PUBREC = 0x0F,
    MSN_PUBREL = 0x10,
    MSN_SUBSCRIBE = 0x12,
    MSN_SUBACK = 0x13,
    MSN_PINGREQ = 0x16,
    MSN_PINGRESP = 0x17,
    MSN_DISCONNECT = 0x18,
    MSN_ENCAPSULATED = 0xFE
};

/* Flags octet (§5.3.4). */
#define MSN_FLAG_DUP 0x80
#define MSN_FLAG_QOS0 0x00
#define MSN_FLAG_QOS1 0x20
#define MSN_FLAG_QOS2 0x40
#define MSN_FLAG_QOS_M1 0x60 /* QoS -1 */
#define MSN_FLAG_QOS_MASK 0x60
#define MSN_FLAG_RETAIN 0x10
#define MSN_FLAG_WILL 0x08
#define MSN_FLAG_CLEAN 0x04
#define MSN_TOPIC_NORMAL 0x00
#define MSN_TOPIC_PREDEFINED 0x01
#define MSN_TOPIC_SHORT 0x02
#define MSN_TOPIC_MASK 0x03

/* Return codes (§5.3.10). */
#define MSN_RC_ACCEPTED 0x00
#define MSN_RC_CONGESTION 0x01
#define MSN_RC_INVALID_TOPIC 0x02
#define MSN_RC_NOT_SUPPORTED 0x03

/*
 * One received message, its fields pointing into the parsed buffer.
 * Which fields are set depends on the type: `flags` for CONNACK-less
 * messages with a flags octet, `topic_id`/`msg_id` where the message has
 * them, `rc` for acknowledgements, `data`/`data_len` for a PUBLISH payload,
 * a REGISTER topic name or the GWINFO/ADVERTISE gateway id.
 */
typedef struct msn_msg {
    uint8_t type;
    uint8_t flags;
    uint8_t rc;
    uint16_t topic_id;
    uint16_t msg_id;
    const uint8_t *data;
    uint8_t data_len;
} msn_msg;

/*
 * Encoders: each writes one whole message at `buf` and returns its length,
 * or 0 when it does not fit in `cap` octets (nothing useful is written then).
 */
uint8_t msn_enc_searchgw(uint8_t *buf, uint8_t cap, uint8_t radius);
uint8_t msn_enc_connect(uint8_t *buf, uint8_t cap, uint8_t flags,
                        uint16_t duration, const char *client_id);
uint8_t msn_enc_willtopic(uint8_t *buf, uint8_t cap, uint8_t flags,
                          const char *topic);
uint8_t msn_enc_willmsg(uint8_t *buf, uint8_t cap, const uint8_t *msg,
                        uint8_t len);
uint8_t msn_enc_register(uint8_t *buf, uint8_t cap, uint16_t msg_id,
                         const char *topic);
uint8_t msn_enc_regack(uint8_t *buf, uint8_t cap, uint16_t topic_id,
                       uint16_t msg_id, uint8_t rc);
uint8_t msn_enc_publish(uint8_t *buf, uint8_t cap, uint8_t flags,
                        uint16_t topic_id, uint16_t msg_id,
                        const uint8_t *payload, uint8_t len);
/* PUBACK, and with type MSN_PUBREC/PUBREL/PUBCOMP the 4-octet acks. */
uint8_t msn_enc_puback(uint8_t *buf, uint8_t cap, uint16_t topic_id,
                       uint16_t msg_id, uint8_t rc);
/* SUBSCRIBE by name when (flags & MSN_TOPIC_MASK) is NORMAL, else by id. */
uint8_t msn_enc_subscribe(uint8_t *buf, uint8_t cap, uint8_t flags,
                          uint16_t msg_id, const char *name, uint16_t id);
/* PINGREQ; with a client id it is the sleeping client's wake-up (§6.14). */
uint8_t msn_enc_pingreq(uint8_t *buf, uint8_t cap, const char *client_id);
/* DISCONNECT; a non-zero duration asks to sleep that many seconds. */
uint8_t msn_enc_disconnect(uint8_t *buf, uint8_t cap, uint16_t duration);
/* A message of only Length and MsgType (PINGRESP, WILLTOPICREQ, ...). */
uint8_t msn_enc_empty(uint8_t *buf, uint8_t cap, uint8_t type);

/*
 * Parses one message. Returns 1 and fills `m`, or 0 for a malformed or
 * truncated message (or one of the 3-octet Length form).
 */
uint8_t msn_parse(const uint8_t *buf, uint8_t len, msn_msg *m);

/*
 * Forwarder encapsulation (§5.5): `Length 0xFE Ctrl WirelessNodeId` ahead of
 * the message. Writes the header (3 + id_len octets) at `buf` and returns
 * its length (0 if it does not fit); the message follows it.
 */
uint8_t msn_fwd_header(uint8_t *buf, uint8_t cap, uint8_t ctrl,
                       const uint8_t *node_id, uint8_t id_len);

/*
 * Splits an encapsulated message: returns the header length (the inner
 * message starts there), or 0 if `buf` is not a well-formed encapsulation.
 * `ctrl`, `node_id` and `id_len` may be NULL.
 */
uint8_t msn_fwd_unwrap(const uint8_t *buf, uint8_t len, uint8_t *ctrl,
                       const uint8_t **node_id, uint8_t *id_len);

#ifdef __cplusplus
}
#endif

#endif
