/* One wake period of a sensor node; see sensor_cycle.h. */
#include "sensor_cycle.h"

uint8_t format_tenths(char *out, int16_t tenths)
{
    char digits[6];
    uint8_t n = 0, len = 0;
    /* unsigned: -32768 has no positive int16_t */
    uint16_t v = (uint16_t)(tenths < 0 ? -(int32_t)tenths : tenths);
    if (tenths < 0) {
        out[len++] = '-';
    }
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < 2);
    while (n > 1) {
        out[len++] = digits[--n];
    }
    out[len++] = '.';
    out[len++] = digits[0];
    return len;
}

int sensor_cycle(msn_client *c, uint8_t first_boot, uint16_t command_id,
                 uint8_t qos, const sensor_reading *readings, uint8_t count,
                 uint16_t sleep_s)
{
    uint8_t i;
    int rc = msn_connect(c, first_boot);
    if (rc) {
        return rc;
    }
    if (first_boot && command_id) {
        rc = msn_subscribe(c, MSN_FLAG_QOS1 | MSN_TOPIC_PREDEFINED, "",
                           command_id, 0);
        if (rc) {
            return rc;
        }
    }
    for (i = 0; i < count; i++) {
        char text[8];
        uint8_t len = format_tenths(text, readings[i].tenths);
        rc = msn_publish(c, (uint8_t)(qos | MSN_TOPIC_PREDEFINED),
                         readings[i].topic_id, (const uint8_t *)text, len);
        if (rc) {
            return rc;
        }
    }
    return msn_disconnect(c, sleep_s);
}
