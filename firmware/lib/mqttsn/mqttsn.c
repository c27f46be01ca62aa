/* The MQTT-SN client's state machine; see mqttsn.h. */
#include "mqttsn.h"

#include <string.h>

/* Room kept in front of every outgoing message for the forwarder header. */
#define ROOM (3 + MSN_FWD_ID_MAX)
#define BODY(buf) ((buf) + ROOM)
/* Answers sent while another message may be waiting for its ack in tx. */
#define ACK_SIZE (ROOM + 7)

void msn_init(msn_client *c, const msn_transport *io, const char *client_id,
              uint16_t keepalive_s)
{
    memset(c, 0, sizeof *c);
    c->io = io;
    c->client_id = client_id;
    c->keepalive_s = keepalive_s;
    c->t_retry_ms = MSN_DEFAULT_T_RETRY_MS;
    c->n_retry = MSN_DEFAULT_N_RETRY;
}

void msn_set_callbacks(msn_client *c, msn_publish_cb on_publish,
                       msn_register_cb on_register, void *ctx)
{
    c->on_publish = on_publish;
    c->on_register = on_register;
    c->cb_ctx = ctx;
}

void msn_set_will(msn_client *c, const char *topic, const uint8_t *msg,
                  uint8_t len, uint8_t qos_retain)
{
    c->will_topic = topic;
    c->will_msg = msg;
    c->will_len = len;
    c->will_flags = qos_retain;
}

void msn_set_forwarder(msn_client *c, const uint8_t *node_id, uint8_t len)
{
    if (len > MSN_FWD_ID_MAX) {
        len = MSN_FWD_ID_MAX;
    }
    memcpy(c->fwd_id, node_id, len);
    c->fwd_id_len = len;
}

static uint32_t now(const msn_client *c)
{
    return c->io->now_ms(c->io->ctx);
}

static uint16_t next_msg_id(msn_client *c)
{
    if (++c->msg_id == 0) {
        c->msg_id = 1;
    }
    return c->msg_id;
}

/* Sends the `len`-octet message at BODY(buf), behind a forwarder header if set. */
static int xmit(msn_client *c, uint8_t *buf, uint8_t len, uint8_t broadcast)
{
    uint8_t *start = BODY(buf);
    if (!len) {
        return MSN_ERR_SIZE;
    }
    if (c->fwd_id_len) {
        uint8_t h = (uint8_t)(3 + c->fwd_id_len);
        start -= h;
        /* Ctrl: radius 1, the node is one hop from the forwarder (§5.5). */
        msn_fwd_header(start, h, 0x01, c->fwd_id, c->fwd_id_len);
        len = (uint8_t)(len + h);
    }
    c->last_tx_ms = now(c);
    return c->io->send(c->io->ctx, start, len, broadcast) ? MSN_ERR_SEND
                                                          : MSN_OK;
}

/* Answers a PUBLISH or REGISTER from the gateway, or a PINGREQ; 1 if it was one. */
static uint8_t handle(msn_client *c, const msn_msg *m)
{
    uint8_t ack[ACK_SIZE];
    uint8_t len = 0;
    switch (m->type) {
    case MSN_PUBLISH:
        c->received++;
        if (c->on_publish) {
            c->on_publish(c->cb_ctx, m->topic_id, m->flags, m->data,
                          m->data_len);
        }
        if ((m->flags & MSN_FLAG_QOS_MASK) == MSN_FLAG_QOS1) {
            len = msn_enc_puback(BODY(ack), 7, m->topic_id, m->msg_id,
                                 MSN_RC_ACCEPTED);
        }
        break;
    case MSN_REGISTER:
        if (c->on_register) {
            c->on_register(c->cb_ctx, m->topic_id, m->data, m->data_len);
        }
        len = msn_enc_regack(BODY(ack), 7, m->topic_id, m->msg_id,
                             MSN_RC_ACCEPTED);
        break;
    case MSN_PINGREQ:
        len = msn_enc_empty(BODY(ack), 7, MSN_PINGRESP);
        break;
    default:
        return 0;
    }
    if (len) {
        xmit(c, ack, len, 0);
    }
    return 1;
}

/* Reads one datagram into m: 1 if there was a message for us, else 0. */
static uint8_t receive(msn_client *c, msn_msg *m)
{
    uint8_t n = c->io->recv(c->io->ctx, c->rx, sizeof c->rx);
    const uint8_t *msg = c->rx;
    if (n && c->fwd_id_len) {
        const uint8_t *id;
        uint8_t id_len;
        uint8_t h = msn_fwd_unwrap(c->rx, n, NULL, &id, &id_len);
        if (!h || id_len != c->fwd_id_len ||
            memcmp(id, c->fwd_id, id_len) != 0) {
            return 0; /* for another node behind the same forwarder */
        }
        msg += h;
        n = (uint8_t)(n - h);
    }
    return n && msn_parse(msg, n, m);
}

/*
 * Waits for the next message that is not handled on the spot, until
 * T_retry after *start; a handled one restarts the wait (the gateway is
 * working through its buffer). 1 with m filled, 0 on timeout.
 */
static uint8_t next(msn_client *c, msn_msg *m, uint32_t *start)
{
    while ((uint32_t)(now(c) - *start) < c->t_retry_ms) {
        if (receive(c, m)) {
            if (!handle(c, m)) {
                return 1;
            }
            *start = now(c);
        }
    }
    return 0;
}

static void answer_will(msn_client *c, uint8_t msg)
{
    uint8_t *b = BODY(c->rx);
    uint8_t len = msg ? msn_enc_willmsg(b, MSN_BUF_SIZE, c->will_msg,
                                        c->will_len)
                      : msn_enc_willtopic(b, MSN_BUF_SIZE, c->will_flags,
                                          c->will_topic);
    xmit(c, c->rx, len, 0);
}

/*
 * Sends the message in tx (len octets) and waits for `want` with `msg_id`
 * (0: any), resending with DUP after each T_retry, N_retry times (§6.13).
 */
static int request(msn_client *c, uint8_t len, uint8_t want, uint16_t msg_id,
                   msn_msg *m, uint8_t broadcast)
{
    uint8_t attempt;
    uint8_t *b = BODY(c->tx);
    for (attempt = 0; attempt <= c->n_retry; attempt++) {
        uint32_t start;
        int rc;
        if (attempt && (b[1] == MSN_PUBLISH || b[1] == MSN_SUBSCRIBE)) {
            b[2] |= MSN_FLAG_DUP;
        }
        rc = xmit(c, c->tx, len, broadcast);
        if (rc) {
            return rc;
        }
        start = now(c);
        while (next(c, m, &start)) {
            if (m->type == MSN_WILLTOPICREQ || m->type == MSN_WILLMSGREQ) {
                answer_will(c, m->type == MSN_WILLMSGREQ);
                start = now(c);
            } else if ((m->type == want ||
                        (want == MSN_GWINFO && m->type == MSN_ADVERTISE)) &&
                       (!msg_id || m->msg_id == msg_id)) {
                return MSN_OK;
            } else if (m->type == MSN_DISCONNECT) {
                c->state = MSN_DISCONNECTED;
                return MSN_ERR_REFUSED;
            }
        }
    }
    if (c->state != MSN_DISCONNECTED) {
        c->state = MSN_LOST;
    }
    return MSN_ERR_TIMEOUT;
}

int msn_searchgw(msn_client *c, uint8_t radius)
{
    msn_msg m;
    int rc = request(c, msn_enc_searchgw(BODY(c->tx), MSN_BUF_SIZE, radius),
                     MSN_GWINFO, 0, &m, 1);
    if (rc == MSN_OK) {
        c->gw_id = m.data[0];
    }
    return rc;
}

int msn_connect(msn_client *c, uint8_t clean_session)
{
    msn_msg m;
    uint8_t flags = (uint8_t)((clean_session ? MSN_FLAG_CLEAN : 0) |
                              (c->will_topic ? MSN_FLAG_WILL : 0));
    int rc = request(c,
                     msn_enc_connect(BODY(c->tx), MSN_BUF_SIZE, flags,
                                     c->keepalive_s, c->client_id),
                     MSN_CONNACK, 0, &m, 0);
    if (rc) {
        return rc;
    }
    c->state = m.rc == MSN_RC_ACCEPTED ? MSN_ACTIVE : MSN_DISCONNECTED;
    return m.rc;
}

int msn_register(msn_client *c, const char *topic, uint16_t *topic_id)
{
    msn_msg m;
    uint16_t id = next_msg_id(c);
    int rc;
    if (c->state != MSN_ACTIVE) {
        return MSN_ERR_STATE;
    }
    rc = request(c, msn_enc_register(BODY(c->tx), MSN_BUF_SIZE, id, topic),
                 MSN_REGACK, id, &m, 0);
    if (rc) {
        return rc;
    }
    *topic_id = m.topic_id;
    return m.rc;
}

int msn_publish(msn_client *c, uint8_t flags, uint16_t topic_id,
                const uint8_t *payload, uint8_t len)
{
    msn_msg m;
    uint8_t qos = flags & MSN_FLAG_QOS_MASK;
    uint16_t id = qos == MSN_FLAG_QOS1 ? next_msg_id(c) : 0;
    uint8_t n;
    int rc;
    if (qos == MSN_FLAG_QOS2) {
        return MSN_RC_NOT_SUPPORTED;
    }
    if (qos != MSN_FLAG_QOS_M1 && c->state != MSN_ACTIVE) {
        return MSN_ERR_STATE;
    }
    n = msn_enc_publish(BODY(c->tx), MSN_BUF_SIZE, flags, topic_id, id,
                        payload, len);
    if (qos != MSN_FLAG_QOS1) {
        return n ? xmit(c, c->tx, n, 0) : MSN_ERR_SIZE;
    }
    rc = request(c, n, MSN_PUBACK, id, &m, 0);
    return rc ? rc : m.rc;
}

int msn_subscribe(msn_client *c, uint8_t flags, const char *name, uint16_t id,
                  uint16_t *topic_id)
{
    msn_msg m;
    uint16_t msg_id = next_msg_id(c);
    int rc;
    if (c->state != MSN_ACTIVE) {
        return MSN_ERR_STATE;
    }
    if ((flags & MSN_FLAG_QOS_MASK) != MSN_FLAG_QOS0) {
        /* QoS 2 deliveries are not handled: ask for 1 at most. */
        flags = (uint8_t)((flags & ~MSN_FLAG_QOS_MASK) | MSN_FLAG_QOS1);
    }
    rc = request(c,
                 msn_enc_subscribe(BODY(c->tx), MSN_BUF_SIZE, flags, msg_id,
                                   name, id),
                 MSN_SUBACK, msg_id, &m, 0);
    if (rc) {
        return rc;
    }
    if (topic_id) {
        *topic_id = m.topic_id;
    }
    return m.rc;
}

/* PINGREQ, with the client id when waking, until PINGRESP. */
static int ping(msn_client *c, const char *client_id)
{
    msn_msg m;
    return request(c, msn_enc_pingreq(BODY(c->tx), MSN_BUF_SIZE, client_id),
                   MSN_PINGRESP, 0, &m, 0);
}

int msn_ping(msn_client *c)
{
    return c->state == MSN_ACTIVE ? ping(c, NULL) : MSN_ERR_STATE;
}

int msn_loop(msn_client *c)
{
    msn_msg m;
    while (receive(c, &m)) {
        if (!handle(c, &m) && m.type == MSN_DISCONNECT) {
            c->state = MSN_DISCONNECTED;
            return MSN_ERR_REFUSED;
        }
    }
    /* Elapsed time in 1.024 s units: a shift, not a 32-bit multiply; the
     * gateway allows 1.5 times the keep-alive, so 2.4 % late is safe. */
    if (c->state == MSN_ACTIVE && c->keepalive_s &&
        ((uint32_t)(now(c) - c->last_tx_ms) >> 10) >= c->keepalive_s) {
        return msn_ping(c);
    }
    return c->state == MSN_LOST ? MSN_ERR_TIMEOUT : MSN_OK;
}

int msn_disconnect(msn_client *c, uint16_t duration)
{
    msn_msg m;
    int rc = request(c, msn_enc_disconnect(BODY(c->tx), MSN_BUF_SIZE, duration),
                     MSN_DISCONNECT, 0, &m, 0);
    if (rc == MSN_OK || rc == MSN_ERR_REFUSED) {
        c->state = duration ? MSN_ASLEEP : MSN_DISCONNECTED;
        return MSN_OK;
    }
    return rc;
}

int msn_wake(msn_client *c)
{
    uint16_t before = c->received;
    int rc;
    if (c->state != MSN_ASLEEP) {
        return MSN_ERR_STATE;
    }
    rc = ping(c, c->client_id);
    return rc ? rc : (int)(uint16_t)(c->received - before);
}
