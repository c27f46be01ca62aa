/* MQTT-SN v1.2 encoders and parser; see mqttsn_codec.h. */
#include "mqttsn_codec.h"

#include <string.h>

/* Writes Length and MsgType; 0 when `total` octets do not fit (§5.2.1). */
static uint8_t head(uint8_t *buf, uint8_t cap, uint16_t total, uint8_t type)
{
    if (total > cap || total > 255) {
        return 0;
    }
    buf[0] = (uint8_t)total;
    buf[1] = type;
    return (uint8_t)total;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

/* A message whose body is `pre` (up to 5 octets already laid out) then `tail`. */
static uint8_t with_tail(uint8_t *buf, uint8_t cap, uint8_t type,
                         const uint8_t *pre, uint8_t pre_len,
                         const void *tail, uint16_t tail_len)
{
    uint8_t n = head(buf, cap, (uint16_t)(2u + pre_len + tail_len), type);
    if (n) {
        memcpy(buf + 2, pre, pre_len);
        memcpy(buf + 2 + pre_len, tail, tail_len);
    }
    return n;
}

uint8_t msn_enc_empty(uint8_t *buf, uint8_t cap, uint8_t type)
{
    return head(buf, cap, 2, type);
}

uint8_t msn_enc_searchgw(uint8_t *buf, uint8_t cap, uint8_t radius)
{
    return with_tail(buf, cap, MSN_SEARCHGW, &radius, 1, "", 0);
}

uint8_t msn_enc_connect(uint8_t *buf, uint8_t cap, uint8_t flags,
                        uint16_t duration, const char *client_id)
{
    /* Flags, ProtocolId 0x01, Duration (§5.4.4). */
    uint8_t pre[4];
    pre[0] = flags;
    pre[1] = 0x01;
    put16(pre + 2, duration);
    return with_tail(buf, cap, MSN_CONNECT, pre, 4, client_id,
                     (uint16_t)strlen(client_id));
}

uint8_t msn_enc_willtopic(uint8_t *buf, uint8_t cap, uint8_t flags,
                          const char *topic)
{
    return with_tail(buf, cap, MSN_WILLTOPIC, &flags, 1, topic,
                     (uint16_t)strlen(topic));
}

uint8_t msn_enc_willmsg(uint8_t *buf, uint8_t cap, const uint8_t *msg,
                        uint8_t len)
{
    return with_tail(buf, cap, MSN_WILLMSG, msg, 0, msg, len);
}

uint8_t msn_enc_register(uint8_t *buf, uint8_t cap, uint16_t msg_id,
                         const char *topic)
{
    /* TopicId is 0x0000 from a client (§5.4.10). */
    uint8_t pre[4] = {0, 0, 0, 0};
    put16(pre + 2, msg_id);
    return with_tail(buf, cap, MSN_REGISTER, pre, 4, topic,
                     (uint16_t)strlen(topic));
}

uint8_t msn_enc_regack(uint8_t *buf, uint8_t cap, uint16_t topic_id,
                       uint16_t msg_id, uint8_t rc)
{
    uint8_t pre[5];
    put16(put16(pre, topic_id), msg_id);
    pre[4] = rc;
    return with_tail(buf, cap, MSN_REGACK, pre, 5, "", 0);
}

uint8_t msn_enc_publish(uint8_t *buf, uint8_t cap, uint8_t flags,
                        uint16_t topic_id, uint16_t msg_id,
                        const uint8_t *payload, uint8_t len)
{
    uint8_t pre[5];
    pre[0] = flags;
    put16(put16(pre + 1, topic_id), msg_id);
    return with_tail(buf, cap, MSN_PUBLISH, pre, 5, payload, len);
}

uint8_t msn_enc_puback(uint8_t *buf, uint8_t cap, uint16_t topic_id,
                       uint16_t msg_id, uint8_t rc)
{
    uint8_t pre[5];
    put16(put16(pre, topic_id), msg_id);
    pre[4] = rc;
    return with_tail(buf, cap, MSN_PUBACK, pre, 5, "", 0);
}

uint8_t msn_enc_subscribe(uint8_t *buf, uint8_t cap, uint8_t flags,
                          uint16_t msg_id, const char *name, uint16_t id)
{
    uint8_t pre[5];
    pre[0] = flags;
    put16(pre + 1, msg_id);
    if ((flags & MSN_TOPIC_MASK) == MSN_TOPIC_NORMAL) {
        return with_tail(buf, cap, MSN_SUBSCRIBE, pre, 3, name,
                         (uint16_t)strlen(name));
    }
    put16(pre + 3, id);
    return with_tail(buf, cap, MSN_SUBSCRIBE, pre, 5, "", 0);
}

uint8_t msn_enc_pingreq(uint8_t *buf, uint8_t cap, const char *client_id)
{
    const char *id = client_id ? client_id : "";
    return with_tail(buf, cap, MSN_PINGREQ, (const uint8_t *)"", 0, id,
                     (uint16_t)strlen(id));
}

uint8_t msn_enc_disconnect(uint8_t *buf, uint8_t cap, uint16_t duration)
{
    uint8_t pre[2];
    put16(pre, duration);
    return with_tail(buf, cap, MSN_DISCONNECT, pre, duration ? 2 : 0, "", 0);
}

/* Octets each type needs after Length and MsgType; 0xFF: not for a client. */
static uint8_t min_body(uint8_t type)
{
    switch (type) {
    case MSN_ADVERTISE:
        return 3;
    case MSN_GWINFO:
    case MSN_CONNACK:
        return 1;
    case MSN_WILLTOPICREQ:
    case MSN_WILLMSGREQ:
    case MSN_PINGREQ:
    case MSN_PINGRESP:
    case MSN_DISCONNECT:
        return 0;
    case MSN_REGISTER:
        return 4;
    case MSN_REGACK:
    case MSN_PUBLISH:
    case MSN_PUBACK:
        return 5;
    case MSN_PUBREC:
    case MSN_PUBREL:
    case MSN_PUBCOMP:
        return 2;
    case MSN_SUBACK:
        return 6;
    default:
        return 0xFF;
    }
}

uint8_t msn_parse(const uint8_t *buf, uint8_t len, msn_msg *m)
{
    uint8_t n, need, type;
    const uint8_t *b = buf + 2;
    if (len < 2 || buf[0] < 2 || buf[0] > len) {
        return 0;
    }
    n = (uint8_t)(buf[0] - 2);
    type = buf[1];
    need = min_body(type);
    if (need == 0xFF || n < need) {
        return 0;
    }
    memset(m, 0, sizeof *m);
    m->type = type;
    if (n) {
        m->rc = b[0]; /* CONNACK */
    }
    /* PUBLISH and SUBACK lead with Flags; then five types share the layout
     * TopicId, MsgId, then the return code or the data (§5.4). */
    if (type == MSN_PUBLISH || type == MSN_SUBACK) {
        m->flags = *b++;
        n--;
    }
    if (type == MSN_REGISTER || type == MSN_REGACK || type == MSN_PUBLISH ||
        type == MSN_PUBACK || type == MSN_SUBACK) {
        m->topic_id = get16(b);
        m->msg_id = get16(b + 2);
        b += 4;
        n = (uint8_t)(n - 4);
        if (n) {
            m->rc = b[0];
        }
    } else if (type >= MSN_PUBCOMP && type <= MSN_PUBREL) {
        m->msg_id = get16(b);
    }
    m->data = b;
    m->data_len = n;
    return 1;
}

uint8_t msn_fwd_header(uint8_t *buf, uint8_t cap, uint8_t ctrl,
                       const uint8_t *node_id, uint8_t id_len)
{
    uint8_t n = head(buf, cap, (uint16_t)(3u + id_len), MSN_ENCAPSULATED);
    if (n) {
        buf[2] = ctrl;
        memcpy(buf + 3, node_id, id_len);
    }
    return n;
}

uint8_t msn_fwd_unwrap(const uint8_t *buf, uint8_t len, uint8_t *ctrl,
                       const uint8_t **node_id, uint8_t *id_len)
{
    /* The header's Length counts only itself (§5.5); a message must follow. */
    if (len < 3 || buf[1] != MSN_ENCAPSULATED || buf[0] < 3 ||
        (uint16_t)buf[0] + 2 > len) {
        return 0;
    }
    if (ctrl) {
        *ctrl = buf[2];
    }
    if (node_id) {
        *node_id = buf + 3;
    }
    if (id_len) {
        *id_len = (uint8_t)(buf[0] - 3);
    }
    return buf[0];
}
