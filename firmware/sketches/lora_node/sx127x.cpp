// SX127x LoRa registers and modes per the Semtech SX1276/77/78/79 datasheet
// (rev. 7, section 6 "LoRa mode register map").
#include "sx127x.h"

#include <Arduino.h>
#include <SPI.h>

namespace {
const uint8_t REG_FIFO = 0x00, REG_OP_MODE = 0x01, REG_FRF_MSB = 0x06,
              REG_PA_CONFIG = 0x09, REG_FIFO_ADDR_PTR = 0x0D,
              REG_FIFO_TX_BASE = 0x0E, REG_FIFO_RX_BASE = 0x0F,
              REG_FIFO_RX_CURRENT = 0x10, REG_IRQ_FLAGS = 0x12,
              REG_RX_NB_BYTES = 0x13, REG_MODEM_CONFIG_1 = 0x1D,
              REG_MODEM_CONFIG_2 = 0x1E, REG_PREAMBLE_MSB = 0x20,
              REG_PAYLOAD_LENGTH = 0x22, REG_MODEM_CONFIG_3 = 0x26,
              REG_SYNC_WORD = 0x39, REG_VERSION = 0x42;
const uint8_t MODE_LORA = 0x80, MODE_SLEEP = 0x00, MODE_STANDBY = 0x01,
              MODE_TX = 0x03, MODE_RX_CONTINUOUS = 0x05;
const uint8_t IRQ_TX_DONE = 0x08, IRQ_CRC_ERROR = 0x20, IRQ_RX_DONE = 0x40;
const SPISettings SPI_SETTINGS(8000000, MSBFIRST, SPI_MODE0);
} // namespace

uint8_t Sx127x::read(uint8_t reg)
{
    SPI.beginTransaction(SPI_SETTINGS);
    digitalWrite(nss_, LOW);
    SPI.transfer(reg & 0x7F);
    uint8_t value = SPI.transfer(0);
    digitalWrite(nss_, HIGH);
    SPI.endTransaction();
    return value;
}

void Sx127x::write(uint8_t reg, uint8_t value)
{
    SPI.beginTransaction(SPI_SETTINGS);
    digitalWrite(nss_, LOW);
    SPI.transfer(reg | 0x80);
    SPI.transfer(value);
    digitalWrite(nss_, HIGH);
    SPI.endTransaction();
}

void Sx127x::mode(uint8_t m) { write(REG_OP_MODE, MODE_LORA | m); }

bool Sx127x::begin(const LoraConfig &c)
{
    pinMode(nss_, OUTPUT);
    digitalWrite(nss_, HIGH);
    pinMode(reset_, OUTPUT);
    digitalWrite(reset_, LOW);
    delay(1);
    digitalWrite(reset_, HIGH);
    delay(10);
    SPI.begin();
    if (read(REG_VERSION) != 0x12) {
        return false;
    }
    mode(MODE_SLEEP); // LoRa mode can only be entered from sleep
    // Frf = f * 2^19 / 32 MHz
    uint32_t frf = (uint32_t)(((uint64_t)c.frequency_hz << 19) / 32000000UL);
    write(REG_FRF_MSB, (uint8_t)(frf >> 16));
    write(REG_FRF_MSB + 1, (uint8_t)(frf >> 8));
    write(REG_FRF_MSB + 2, (uint8_t)frf);
    write(REG_FIFO_TX_BASE, 0);
    write(REG_FIFO_RX_BASE, 0);
    // Bw, CodingRate, explicit header; SF, RxPayloadCrcOn; AGC auto, and
    // LowDataRateOptimize when a symbol lasts over 16 ms (SF11/12 at 125 kHz).
    write(REG_MODEM_CONFIG_1, (uint8_t)(c.bandwidth << 4 | c.coding_rate << 1));
    write(REG_MODEM_CONFIG_2, (uint8_t)(c.spreading << 4 | 0x04));
    write(REG_MODEM_CONFIG_3,
          (uint8_t)(0x04 | (c.spreading >= 11 && c.bandwidth == 7 ? 0x08 : 0)));
    write(REG_PREAMBLE_MSB, (uint8_t)(c.preamble >> 8));
    write(REG_PREAMBLE_MSB + 1, (uint8_t)c.preamble);
    write(REG_SYNC_WORD, c.sync_word);
    // PA_BOOST (RFM95 modules wire only that), Pout = 17 - (15 - OutputPower)
    int8_t p = c.power_dbm < 2 ? 2 : c.power_dbm > 17 ? 17 : c.power_dbm;
    write(REG_PA_CONFIG, (uint8_t)(0x80 | 0x70 | (p - 2)));
    mode(MODE_STANDBY);
    mode(MODE_RX_CONTINUOUS);
    return true;
}

bool Sx127x::send(const uint8_t *data, uint8_t len, uint16_t timeout_ms)
{
    mode(MODE_STANDBY);
    write(REG_FIFO_ADDR_PTR, 0);
    for (uint8_t i = 0; i < len; i++) {
        write(REG_FIFO, data[i]);
    }
    write(REG_PAYLOAD_LENGTH, len);
    write(REG_IRQ_FLAGS, 0xFF);
    mode(MODE_TX);
    uint32_t start = millis();
    bool sent = false;
    while (!(sent = read(REG_IRQ_FLAGS) & IRQ_TX_DONE) &&
           millis() - start < timeout_ms) {
    }
    write(REG_IRQ_FLAGS, 0xFF);
    mode(MODE_RX_CONTINUOUS);
    return sent;
}

uint8_t Sx127x::receive(uint8_t *buf, uint8_t cap)
{
    uint8_t flags = read(REG_IRQ_FLAGS);
    if (!(flags & IRQ_RX_DONE)) {
        return 0;
    }
    write(REG_IRQ_FLAGS, 0xFF);
    uint8_t len = read(REG_RX_NB_BYTES);
    if (flags & IRQ_CRC_ERROR || len > cap) {
        return 0;
    }
    write(REG_FIFO_ADDR_PTR, read(REG_FIFO_RX_CURRENT));
    for (uint8_t i = 0; i < len; i++) {
        buf[i] = read(REG_FIFO);
    }
    return len;
}

void Sx127x::sleep() { mode(MODE_SLEEP); }
