/*
 * Predefined MQTT-SN topic ids the sketches publish to, so a node needs no
 * REGISTER (and a QoS -1 node no connection at all). The same ids and names
 * are listed in wren's config/wren.toml under [mqttsn.predefined_topics];
 * tests/40_firmware.rs checks that both lists agree.
 */
#ifndef WREN_TOPICS_H
#define WREN_TOPICS_H

#define WREN_TOPIC_ESP_TEMPERATURE 1  /* "sensors/esp/temperature" */
#define WREN_TOPIC_ESP_HUMIDITY 2     /* "sensors/esp/humidity" */
#define WREN_TOPIC_ESP_COMMAND 3      /* "sensors/esp/command" */
#define WREN_TOPIC_XBEE_TEMPERATURE 4 /* "sensors/xbee/temperature" */
#define WREN_TOPIC_XBEE_BATTERY 5     /* "sensors/xbee/battery" */
#define WREN_TOPIC_LORA_TEMPERATURE 6 /* "sensors/lora/temperature" */
#define WREN_TOPIC_LORA_BATTERY 7     /* "sensors/lora/battery" */

#endif
