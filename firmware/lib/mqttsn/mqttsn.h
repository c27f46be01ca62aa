/*
 * A small MQTT-SN v1.2 client for sensor nodes.
 *
 * Portable C99: no allocation, no I/O of its own, fixed buffers inside the
 * client struct. The application hands it a transport (send one datagram,
 * receive one datagram without blocking, read a millisecond clock) and calls
 * the blocking operations below; each waits at most T_retry per attempt and
 * makes 1 + N_retry attempts (§6.13), resending with DUP where the spec has
 * the flag. While an operation waits, PUBLISH and REGISTER from the gateway
 * are answered and handed to the callbacks, so a node never misses one.
 *
 * What it covers: SEARCHGW/GWINFO, CONNECT with the will flow, REGISTER,
 * PUBLISH at QoS -1/0/1, SUBSCRIBE (granted QoS up to 1), incoming PUBLISH
 * and REGISTER, PINGREQ keep-alive, DISCONNECT, sleep (DISCONNECT with a
 * duration) and the wake cycle (PINGREQ with the client id, buffered
 * messages delivered, PINGRESP), and the forwarder encapsulation for nodes
 * whose link has no addresses of its own (LoRa P2P).
 */
#ifndef MQTTSN_H
#define MQTTSN_H

#include <stdint.h>

#include "mqttsn_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest MQTT-SN message sent or received (the frame of the radio). */
#ifndef MSN_BUF_SIZE
#define MSN_BUF_SIZE 64
#endif
/* Longest wireless node id the forwarder header may carry. */
#ifndef MSN_FWD_ID_MAX
#define MSN_FWD_ID_MAX 2
#endif
#if MSN_BUF_SIZE > 250 || MSN_FWD_ID_MAX > 5
#error "the buffers must stay under 256 octets: lengths are uint8_t"
#endif
#define MSN_DEFAULT_T_RETRY_MS 10000u
#define MSN_DEFAULT_N_RETRY 3u

/* Results: 0 success, >0 a return code from the gateway, <0 these. */
#define MSN_OK 0
#define MSN_ERR_TIMEOUT (-1) /* no answer after 1 + N_retry attempts */
#define MSN_ERR_SIZE (-2)    /* the message does not fit MSN_BUF_SIZE */
#define MSN_ERR_STATE (-3)   /* not connected (or not asleep, for wake) */
#define MSN_ERR_SEND (-4)    /* the transport refused the datagram */
#define MSN_ERR_REFUSED (-5) /* the gateway answered DISCONNECT */

/* Where the client stands, as the gateway sees it (§6.14). */
enum msn_state {
    MSN_DISCONNECTED = 0,
    MSN_ACTIVE,
    MSN_ASLEEP,
    MSN_LOST /* N_retry exhausted: search for a gateway and connect again */
};

/* The application's I/O. `ctx` is passed back untouched. */
typedef struct msn_transport {
    void *ctx;
    /* Sends one datagram to the gateway, or to every gateway in range when
     * `broadcast` is set (SEARCHGW). Returns 0 on success. */
    int (*send)(void *ctx, const uint8_t *buf, uint8_t len, uint8_t broadcast);
    /* Copies one received datagram into `buf` and returns its length, or 0
     * when none is waiting. Must not block for long: the client polls it. */
    uint8_t (*recv)(void *ctx, uint8_t *buf, uint8_t cap);
    /* A millisecond clock; wrapping is fine. */
    uint32_t (*now_ms)(void *ctx);
} msn_transport;

/* A PUBLISH from the gateway: topic id with its type (flags & MSN_TOPIC_MASK). */
typedef void (*msn_publish_cb)(void *ctx, uint16_t topic_id, uint8_t flags,
                               const uint8_t *payload, uint8_t len);
/* A REGISTER from the gateway (a wildcard subscription met a new topic). */
typedef void (*msn_register_cb)(void *ctx, uint16_t topic_id,
                                const uint8_t *name, uint8_t len);

typedef struct msn_client {
    const msn_transport *io;
    const char *client_id;
    uint16_t keepalive_s;
    uint16_t t_retry_ms;
    uint8_t n_retry;
    uint8_t state;
    uint16_t msg_id;
    uint32_t last_tx_ms;
    uint8_t gw_id;
    uint16_t received; /* PUBLISHes from the gateway, ever */
    /* will (optional): set with msn_set_will before msn_connect */
    const char *will_topic;
    const uint8_t *will_msg;
    uint8_t will_len;
    uint8_t will_flags;
    /* forwarder encapsulation (optional): msn_set_forwarder */
    uint8_t fwd_id_len;
    uint8_t fwd_id[MSN_FWD_ID_MAX];
    msn_publish_cb on_publish;
    msn_register_cb on_register;
    void *cb_ctx;
    /* The forwarder header is written in front of the message in place. */
    uint8_t tx[3 + MSN_FWD_ID_MAX + MSN_BUF_SIZE];
    uint8_t rx[3 + MSN_FWD_ID_MAX + MSN_BUF_SIZE];
} msn_client;

/* Sets up `c` (no I/O). `client_id` must outlive the client. */
void msn_init(msn_client *c, const msn_transport *io, const char *client_id,
              uint16_t keepalive_s);
/* Callbacks for messages from the gateway; either may be NULL. */
void msn_set_callbacks(msn_client *c, msn_publish_cb on_publish,
                       msn_register_cb on_register, void *ctx);
/* A will for the next CONNECT: `qos_retain` is MSN_FLAG_QOSn | MSN_FLAG_RETAIN. */
void msn_set_will(msn_client *c, const char *topic, const uint8_t *msg,
                  uint8_t len, uint8_t qos_retain);
/* Wraps every message in the forwarder header with this node id (§5.5). */
void msn_set_forwarder(msn_client *c, const uint8_t *node_id, uint8_t len);

/* Broadcasts SEARCHGW and waits for GWINFO (or ADVERTISE); sets c->gw_id. */
int msn_searchgw(msn_client *c, uint8_t radius);
/* CONNECT, with the will flow when a will is set. Returns the CONNACK code. */
int msn_connect(msn_client *c, uint8_t clean_session);
/* REGISTER: on success *topic_id holds the gateway's id for `topic`. */
int msn_register(msn_client *c, const char *topic, uint16_t *topic_id);
/*
 * PUBLISH. `flags` = QoS (MSN_FLAG_QOS0/1/M1) | topic type | MSN_FLAG_RETAIN.
 * QoS 1 waits for PUBACK and returns its code; QoS 0 needs a connection;
 * QoS -1 needs none (predefined or short topic only).
 */
int msn_publish(msn_client *c, uint8_t flags, uint16_t topic_id,
                const uint8_t *payload, uint8_t len);
/*
 * SUBSCRIBE to `name` (topic type normal in `flags`) or to `id` (predefined
 * or short); QoS in `flags`, at most 1. Returns the SUBACK code; *topic_id
 * gets the granted id (0 for a wildcard), if not NULL.
 */
int msn_subscribe(msn_client *c, uint8_t flags, const char *name, uint16_t id,
                  uint16_t *topic_id);
/* PINGREQ and wait for PINGRESP (the keep-alive, §6.11). */
int msn_ping(msn_client *c);
/*
 * Handles what has arrived and keeps the connection alive: call it often
 * while active. Returns MSN_OK, or an error once the gateway is lost.
 */
int msn_loop(msn_client *c);
/* DISCONNECT with `duration` seconds of sleep (0: leave for good). */
int msn_disconnect(msn_client *c, uint16_t duration);
/*
 * The wake cycle of a sleeping client: PINGREQ with the client id, then the
 * buffered messages (each one answered and handed to the callback), until
 * PINGRESP. Returns how many PUBLISHes arrived, or an error. The client is
 * asleep again afterwards; msn_connect makes it active.
 */
int msn_wake(msn_client *c);

#ifdef __cplusplus
}
#endif

#endif
