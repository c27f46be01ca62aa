// wren serial bridge: an Arduino with an nRF24L01+ that relays sensor nodes
// to the Pi over USB serial. Nodes send MQTT-SN messages already wrapped in
// the forwarder encapsulation (0xFE, Ctrl, their 2-octet node id, little-
// endian); the bridge passes each one to the Pi in a SLIP frame with a
// CRC-16/XMODEM (wren's `slip` radio), and sends each frame from the Pi to
// the node its header names. It keeps no MQTT-SN state. See README.md.
#include "bridge_relay.h"
#include "nrf24.h"
#include "slip.h"

#ifndef CHANNEL
#define CHANNEL 76 // 2476 MHz, above most Wi-Fi channels
#endif
const uint8_t NRF_CE = 9, NRF_CSN = 10;
const uint8_t LED = LED_BUILTIN; // blinks for each packet relayed

// The bridge listens on "wren0"; node N on {N low, N high, 'n', 'r', 'w'}
// (addresses go over the air least significant octet first).
static const uint8_t BRIDGE_ADDRESS[5] = {'0', 'n', 'e', 'r', 'w'};

static Nrf24 radio(NRF_CE, NRF_CSN);
static slip_rx from_pi;

static void serial_put(void *, uint8_t b) { Serial.write(b); }

// A packet from a node: relayed if it is a well-formed encapsulation.
static void radio_to_pi()
{
    uint8_t packet[Nrf24::MAX_PAYLOAD];
    uint8_t len = radio.receive(packet);
    if (len && bridge_from_radio(packet, len, serial_put, nullptr)) {
        digitalWrite(LED, !digitalRead(LED));
    }
}

// A frame from the Pi: sent to the node its header names.
static void pi_to_radio()
{
    while (Serial.available()) {
        uint16_t id = 0;
        uint8_t len = bridge_from_pi(&from_pi, (uint8_t)Serial.read(), &id);
        if (len) {
            const uint8_t node[5] = {(uint8_t)id, (uint8_t)(id >> 8), 'n', 'r',
                                     'w'};
            radio.send(node, from_pi.buf, len);
        }
    }
}

void setup()
{
    Serial.begin(115200);
    pinMode(LED, OUTPUT);
    slip_rx_init(&from_pi);
    while (!radio.begin(CHANNEL, BRIDGE_ADDRESS)) {
        digitalWrite(LED, !digitalRead(LED));
        delay(100);
    }
}

void loop()
{
    radio_to_pi();
    pi_to_radio();
}
