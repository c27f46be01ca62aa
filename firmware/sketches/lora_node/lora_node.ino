// wren LoRa node: an Arduino (Uno or Pro Mini) with an SX1276 module
// (RFM95W) talking raw LoRa to the gateway's RAK3172 in P2P mode. LoRa P2P
// has no addresses, so every MQTT-SN message carries the forwarder
// encapsulation header (0xFE) with this node's 2-octet id, and the gateway
// answers in the same header. Each period: CONNECT (resuming the sleeping
// session), the readings at QoS 1 to predefined topic ids, DISCONNECT with
// the sleep duration. See README.md.
#include <avr/interrupt.h>
#include <avr/sleep.h>
#include <avr/wdt.h>

#include "mqttsn.h"
#include "sensor_cycle.h"
#include "sx127x.h"
#include "wren_topics.h"

#ifndef NODE_ID
#define NODE_ID 0x0101 // unique per node on this LoRa channel
#endif
#ifndef PERIOD_S
#define PERIOD_S 296 // sleep between readings (8 s watchdog steps)
#endif
const uint8_t LORA_NSS = 10, LORA_RESET = 9;
const uint8_t TMP36 = A0;

// Must match the gateway modem's AT+P2P=868100000:7:125:0:8:14
// (frequency, SF, bandwidth, coding rate 4/5, preamble, power).
static const LoraConfig LORA = {868100000UL, 7, 7, 1, 8, 0x12, 14};

static Sx127x radio(LORA_NSS, LORA_RESET);
static msn_client client;
static bool first_boot = true;

static int lora_send(void *, const uint8_t *buf, uint8_t len, uint8_t)
{
    return radio.send(buf, len) ? 0 : -1;
}
static uint8_t lora_recv(void *, uint8_t *buf, uint8_t cap)
{
    return radio.receive(buf, cap);
}
static uint32_t clock_ms(void *) { return millis(); }
static const msn_transport lora = {nullptr, lora_send, lora_recv, clock_ms};

static uint16_t vcc_mv()
{
    ADMUX = _BV(REFS0) | _BV(MUX3) | _BV(MUX2) | _BV(MUX1);
    delay(2);
    ADCSRA |= _BV(ADSC);
    while (ADCSRA & _BV(ADSC)) {
    }
    return (uint16_t)(1125300UL / ADC);
}

ISR(WDT_vect) {}

static void sleep_for(uint16_t seconds)
{
    for (uint16_t slept = 0; slept < seconds; slept += 8) {
        cli();
        wdt_reset();
        WDTCSR = _BV(WDCE) | _BV(WDE);
        WDTCSR = _BV(WDIE) | _BV(WDP3) | _BV(WDP0);
        set_sleep_mode(SLEEP_MODE_PWR_DOWN);
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
    }
    wdt_disable();
}

void setup()
{
    static const uint8_t node_id[2] = {NODE_ID & 0xFF, NODE_ID >> 8};
    static char client_id[] = "lora-0000";
    static const char hex[] = "0123456789abcdef";
    for (uint8_t i = 0; i < 4; i++) {
        client_id[5 + i] = hex[(NODE_ID >> (12 - 4 * i)) & 0xF];
    }
    while (!radio.begin(LORA)) {
        delay(1000);
    }
    msn_init(&client, &lora, client_id, 60);
    client.t_retry_ms = 3000; // a LoRa round trip at SF7 is ~100 ms
    msn_set_forwarder(&client, node_id, 2);
}

void loop()
{
    uint16_t mv = vcc_mv();
    int32_t tmp_mv = (int32_t)analogRead(TMP36) * mv / 1024;
    const sensor_reading readings[] = {
        {WREN_TOPIC_LORA_TEMPERATURE, (int16_t)(tmp_mv - 500)},
        {WREN_TOPIC_LORA_BATTERY, (int16_t)(mv / 100)},
    };
    // The gateway takes the node for lost 1.5 sleep durations after it
    // left: margin enough for the watchdog's +-10 %.
    int rc = sensor_cycle(&client, first_boot, 0, MSN_FLAG_QOS1, readings, 2,
                          PERIOD_S);
    // On any failure start afresh next time (a new clean session).
    first_boot = rc != MSN_OK;
    radio.sleep();
    sleep_for(PERIOD_S);
}
