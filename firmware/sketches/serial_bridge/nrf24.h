// A minimal nRF24L01+ driver: dynamic payloads (1..32 octets), auto-ack
// with retries, 5-octet addresses; polled, so only CE and CSN are wired
// besides SPI. Enough for a bridge that relays small MQTT-SN packets.
#ifndef NRF24_H
#define NRF24_H

#include <stdint.h>

class Nrf24 {
  public:
    static const uint8_t MAX_PAYLOAD = 32;
    Nrf24(uint8_t ce, uint8_t csn) : ce_(ce), csn_(csn) {}
    // Configures channel (0..125) and listens on `address` (5 octets, LSB
    // first). False if no module answers.
    bool begin(uint8_t channel, const uint8_t address[5]);
    // Sends to `address` and waits for its auto-ack (up to 15 retries);
    // false when it never came. Listens again afterwards.
    bool send(const uint8_t address[5], const uint8_t *data, uint8_t len);
    // Copies one received payload into buf (at least MAX_PAYLOAD octets);
    // 0 if none waiting.
    uint8_t receive(uint8_t *buf);

  private:
    uint8_t command(uint8_t cmd, const uint8_t *out, uint8_t *in, uint8_t len);
    uint8_t read(uint8_t reg);
    void write(uint8_t reg, uint8_t value);
    void write(uint8_t reg, const uint8_t *data, uint8_t len);
    void listen();
    uint8_t ce_, csn_;
    uint8_t address_[5];
};

#endif
