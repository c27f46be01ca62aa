// wren serial bridge: an Arduino with an nRF24L01+ that relays sensor nodes
// to the Pi over USB serial. Nodes send MQTT-SN messages already wrapped in
// the forwarder encapsulation (0xFE, Ctrl, their 2-octet node id, little-
// endian); the bridge passes each one to the Pi in a SLIP frame with a
// CRC-16/XMODEM (wren's `slip` radio), and sends each frame from the Pi to
// the node its header names. It keeps no MQTT-SN state. See README.md.
#include "mqttsn_codec.h"
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
    uint8_t id_len = 0;
    if (len && msn_fwd_unwrap(packet, len, nullptr, nullptr, &id_len) &&
        id_len == 2) {
        slip_write(serial_put, nullptr, packet, len, nullptr, 0);
        digitalWrite(LED, !digitalRead(LED));
    }
}

// A frame from the Pi: sent to the node its header names.
static void pi_to_radio()
{
    while (Serial.available()) {
        uint8_t len = slip_rx_byte(&from_pi, (uint8_t)Serial.read());
        const uint8_t *id = nullptr;
        uint8_t id_len = 0;
        if (len && len <= Nrf24::MAX_PAYLOAD &&
            msn_fwd_unwrap(from_pi.buf, len, nullptr, &id, &id_len) &&
            id_len == 2) {
            const uint8_t node[5] = {id[0], id[1], 'n', 'r', 'w'};
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
