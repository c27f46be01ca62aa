// A minimal SX1276/77/78/79 (HopeRF RFM95/96/98) LoRa driver: explicit
// header, CRC on, one packet at a time, polled (no interrupt pin needed).
// Just what an MQTT-SN node needs to talk to a LoRa P2P modem at the gateway.
#ifndef SX127X_H
#define SX127X_H

#include <stdint.h>

struct LoraConfig {
    uint32_t frequency_hz; // e.g. 868100000
    uint8_t spreading;     // 7..12
    uint8_t bandwidth;     // register code: 7 = 125 kHz, 8 = 250, 9 = 500
    uint8_t coding_rate;   // 1..4 for 4/5..4/8
    uint16_t preamble;     // symbols, 8 by default
    uint8_t sync_word;     // 0x12 private, 0x34 public (SX126x 0x1424 / 0x3444)
    int8_t power_dbm;      // 2..17 on PA_BOOST
};

class Sx127x {
  public:
    Sx127x(uint8_t nss, uint8_t reset) : nss_(nss), reset_(reset) {}
    // Resets and configures the radio, then listens. False if no SX127x answers.
    bool begin(const LoraConfig &config);
    // Sends one packet (blocking until sent, at most `timeout_ms`), then listens.
    bool send(const uint8_t *data, uint8_t len, uint16_t timeout_ms = 2000);
    // Copies a received packet with a good CRC into buf; 0 if none waiting.
    uint8_t receive(uint8_t *buf, uint8_t cap);
    // The radio's sleep mode (about 0.2 uA); begin() or send() wakes it.
    void sleep();

  private:
    uint8_t read(uint8_t reg);
    void write(uint8_t reg, uint8_t value);
    void mode(uint8_t mode);
    uint8_t nss_, reset_;
};

#endif
