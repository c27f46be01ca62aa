// wren XBee node: the smallest sensor node. An Arduino Uno (or a bare
// ATmega328P) with an XBee Zigbee module in API mode 2 publishes its
// temperature and supply voltage at QoS -1 to predefined topic ids: no
// CONNECT, no REGISTER, nothing to receive, one radio frame per reading.
// Between readings the XBee hibernates (SLEEP_RQ pin) and the ATmega sleeps
// in power-down, woken by the watchdog. See README.md.
#include <avr/interrupt.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/delay.h>

#include "mqttsn.h"
#include "wren_topics.h"
#include "xbee_api.h"

#ifndef PERIOD_S
#define PERIOD_S 64 // between readings; a multiple of the 8 s watchdog step
#endif
const uint8_t XBEE_SLEEP_RQ = 7; // to XBee pin 9 (SM=1: high = hibernate)
const uint8_t TMP36 = A0;
const uint8_t TMP36_POWER = 8; // the sensor's V+: 50 uA saved while asleep

static msn_client client;

static void xbee_put(void *, uint8_t b) { Serial.write(b); }

// The gateway's XBee is the coordinator (64-bit address 0); 0xFFFE lets the
// module find its 16-bit address. Frame id 0: no Transmit Status back.
static int xbee_send(void *, const uint8_t *buf, uint8_t len, uint8_t broadcast)
{
    xbee_write_tx(xbee_put, nullptr, 0,
                  broadcast ? xbee_broadcast : xbee_coordinator, 0xFFFE, buf,
                  len);
#ifndef WREN_EMULATED // qemu's USART never reports "transmit complete"
    Serial.flush();
#endif
    return 0;
}

// QoS -1 gets no answers: nothing to read.
static uint8_t xbee_recv(void *, uint8_t *, uint8_t) { return 0; }
static uint32_t clock_ms(void *) { return millis(); }
static const msn_transport xbee = {nullptr, xbee_send, xbee_recv, clock_ms};

// Supply voltage in millivolts: the 1.1 V bandgap measured against AVcc.
static uint16_t vcc_mv()
{
#ifdef WREN_EMULATED // qemu-system-avr emulates no ADC
    return 3300;
#endif
    ADMUX = _BV(REFS0) | _BV(MUX3) | _BV(MUX2) | _BV(MUX1);
    delay(2);
    ADCSRA |= _BV(ADSC);
    while (ADCSRA & _BV(ADSC)) {
    }
    return (uint16_t)(1125300UL / ADC);
}

static void publish_tenths(uint16_t topic, int16_t tenths)
{
    char text[8];
    uint8_t len = 0;
    uint16_t v = (uint16_t)(tenths < 0 ? -tenths : tenths);
    if (tenths < 0) {
        text[len++] = '-';
    }
    if (v >= 100) {
        text[len++] = (char)('0' + v / 100 % 10);
    }
    text[len++] = (char)('0' + v / 10 % 10);
    text[len++] = '.';
    text[len++] = (char)('0' + v % 10);
    msn_publish(&client, MSN_FLAG_QOS_M1 | MSN_TOPIC_PREDEFINED, topic,
                (const uint8_t *)text, len);
}

// Waits `ms` milliseconds. Under qemu-system-avr, whose ATmega328P has no
// Timer0 (so millis() stands still and delay() never returns), it busy-waits.
static void pause(uint16_t ms)
{
#ifdef WREN_EMULATED
    while (ms--) {
        _delay_ms(1);
    }
#else
    delay(ms);
#endif
}

ISR(WDT_vect) {}

// Power-down for `seconds` in 8 s watchdog steps (the WDT interrupt wakes it).
static void sleep_for(uint16_t seconds)
{
#ifdef WREN_EMULATED // qemu-system-avr emulates no watchdog wake-up
    while (seconds--) {
        pause(1000);
    }
#else
    for (uint16_t slept = 0; slept < seconds; slept += 8) {
        cli();
        wdt_reset();
        WDTCSR = _BV(WDCE) | _BV(WDE);
        WDTCSR = _BV(WDIE) | _BV(WDP3) | _BV(WDP0); // interrupt only, 8 s
        set_sleep_mode(SLEEP_MODE_PWR_DOWN);
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
    }
    wdt_disable();
#endif
}

void setup()
{
    Serial.begin(9600); // the XBee's default BD=3
    pinMode(XBEE_SLEEP_RQ, OUTPUT);
    pinMode(TMP36_POWER, OUTPUT);
    msn_init(&client, &xbee, "", 0);
}

void loop()
{
    digitalWrite(XBEE_SLEEP_RQ, LOW); // wake the XBee
    digitalWrite(TMP36_POWER, HIGH);
    pause(20);
    uint16_t mv = vcc_mv();
    // TMP36: 500 mV at 0 degC, 10 mV per degC, so tenths = mV - 500.
#ifdef WREN_EMULATED
    int32_t tmp_mv = 715; // 21.5 degC
#else
    int32_t tmp_mv = (int32_t)analogRead(TMP36) * mv / 1024;
#endif
    digitalWrite(TMP36_POWER, LOW);
    publish_tenths(WREN_TOPIC_XBEE_TEMPERATURE, (int16_t)(tmp_mv - 500));
    publish_tenths(WREN_TOPIC_XBEE_BATTERY, (int16_t)(mv / 100));
    pause(50); // let the module send before it hibernates
    digitalWrite(XBEE_SLEEP_RQ, HIGH);
    sleep_for(PERIOD_S);
}
