/*
 * One wake period of a battery sensor node, shared by the ESP and LoRa
 * sketches and run on the host by tests/40_firmware.rs, so the logic the
 * boards run is the logic the test checks.
 *
 * The node connects (clean session on first boot; afterwards resuming its
 * sleeping session, so the gateway hands over what was published to it
 * meanwhile), subscribes to its command topic on first boot, publishes each
 * reading to its predefined topic id, and goes back to sleep with
 * DISCONNECT(duration), the gateway keeping its session and buffering for it.
 */
#ifndef SENSOR_CYCLE_H
#define SENSOR_CYCLE_H

#include <stdint.h>

#include "mqttsn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One reading: a predefined topic id and the value in tenths (215 = 21.5). */
typedef struct sensor_reading {
    uint16_t topic_id;
    int16_t tenths;
} sensor_reading;

/*
 * Runs one period. `command_id` (predefined, 0 for none) is subscribed to
 * on first boot; `qos` is MSN_FLAG_QOS0 or MSN_FLAG_QOS1. Returns MSN_OK
 * or the first error (the caller sleeps anyway and tries again next time,
 * with first_boot set so the session starts afresh).
 */
int sensor_cycle(msn_client *c, uint8_t first_boot, uint16_t command_id,
                 uint8_t qos, const sensor_reading *readings, uint8_t count,
                 uint16_t sleep_s);

/* Formats tenths as a decimal ("21.5", "-0.3", "100.0"); returns its length. */
uint8_t format_tenths(char *out, int16_t tenths);

#ifdef __cplusplus
}
#endif

#endif
