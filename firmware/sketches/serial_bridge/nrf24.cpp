// nRF24L01+ registers and commands per the Nordic product specification
// v1.0 (sections 8.3 "SPI commands" and 9 "Register map").
#include "nrf24.h"

#include <Arduino.h>
#include <SPI.h>

namespace {
const uint8_t R_REGISTER = 0x00, W_REGISTER = 0x20, R_RX_PAYLOAD = 0x61,
              W_TX_PAYLOAD = 0xA0, FLUSH_TX = 0xE1, FLUSH_RX = 0xE2,
              R_RX_PL_WID = 0x60, NOP = 0xFF;
const uint8_t CONFIG = 0x00, EN_AA = 0x01, EN_RXADDR = 0x02, SETUP_AW = 0x03,
              SETUP_RETR = 0x04, RF_CH = 0x05, RF_SETUP = 0x06, STATUS = 0x07,
              RX_ADDR_P0 = 0x0A, RX_ADDR_P1 = 0x0B, TX_ADDR = 0x10,
              FIFO_STATUS = 0x17, DYNPD = 0x1C, FEATURE = 0x1D;
// CONFIG: CRC on, 2 octets, powered up; PRIM_RX selects receive.
const uint8_t CONFIG_BASE = 0x08 | 0x04 | 0x02, PRIM_RX = 0x01;
const uint8_t RX_DR = 0x40, TX_DS = 0x20, MAX_RT = 0x10, RX_EMPTY = 0x01;
const SPISettings SPI_SETTINGS(8000000, MSBFIRST, SPI_MODE0);
} // namespace

uint8_t Nrf24::command(uint8_t cmd, const uint8_t *out, uint8_t *in,
                       uint8_t len)
{
    SPI.beginTransaction(SPI_SETTINGS);
    digitalWrite(csn_, LOW);
    uint8_t status = SPI.transfer(cmd);
    for (uint8_t i = 0; i < len; i++) {
        uint8_t b = SPI.transfer(out ? out[i] : NOP);
        if (in) {
            in[i] = b;
        }
    }
    digitalWrite(csn_, HIGH);
    SPI.endTransaction();
    return status;
}

uint8_t Nrf24::read(uint8_t reg)
{
    uint8_t value = 0;
    command(R_REGISTER | reg, nullptr, &value, 1);
    return value;
}

void Nrf24::write(uint8_t reg, uint8_t value)
{
    command(W_REGISTER | reg, &value, nullptr, 1);
}

void Nrf24::write(uint8_t reg, const uint8_t *data, uint8_t len)
{
    command(W_REGISTER | reg, data, nullptr, len);
}

void Nrf24::listen()
{
    write(CONFIG, CONFIG_BASE | PRIM_RX);
    digitalWrite(ce_, HIGH);
}

bool Nrf24::begin(uint8_t channel, const uint8_t address[5])
{
    pinMode(ce_, OUTPUT);
    pinMode(csn_, OUTPUT);
    digitalWrite(ce_, LOW);
    digitalWrite(csn_, HIGH);
    SPI.begin();
    delay(5); // power-on reset: 100 ms from Vcc, 5 ms is enough after it
    write(SETUP_AW, 0x03); // 5-octet addresses
    if (read(SETUP_AW) != 0x03) {
        return false;
    }
    memcpy(address_, address, 5);
    write(SETUP_RETR, 0x5F); // 1500 us between 15 retries (250 kbps acks)
    write(RF_CH, channel);
    write(RF_SETUP, 0x26);   // 250 kbps, 0 dBm
    write(FEATURE, 0x04);    // dynamic payload length
    write(DYNPD, 0x03);      // ... on pipes 0 (acks) and 1
    write(EN_AA, 0x03);
    write(EN_RXADDR, 0x03);
    write(RX_ADDR_P1, address_, 5);
    command(FLUSH_RX, nullptr, nullptr, 0);
    command(FLUSH_TX, nullptr, nullptr, 0);
    write(STATUS, RX_DR | TX_DS | MAX_RT);
    listen();
    delay(2); // 1.5 ms start-up from power down
    return true;
}

bool Nrf24::send(const uint8_t address[5], const uint8_t *data, uint8_t len)
{
    if (len == 0 || len > MAX_PAYLOAD) {
        return false;
    }
    digitalWrite(ce_, LOW);
    write(CONFIG, CONFIG_BASE);
    write(TX_ADDR, address, 5);
    write(RX_ADDR_P0, address, 5); // the auto-ack comes back on pipe 0
    command(W_TX_PAYLOAD, data, nullptr, len);
    digitalWrite(ce_, HIGH);
    delayMicroseconds(15); // a CE pulse of at least 10 us starts it
    digitalWrite(ce_, LOW);
    uint32_t start = millis();
    uint8_t status;
    do {
        status = command(NOP, nullptr, nullptr, 0);
    } while (!(status & (TX_DS | MAX_RT)) && millis() - start < 100);
    write(STATUS, TX_DS | MAX_RT);
    if (!(status & TX_DS)) {
        command(FLUSH_TX, nullptr, nullptr, 0);
    }
    listen();
    return status & TX_DS;
}

uint8_t Nrf24::receive(uint8_t *buf)
{
    if (read(FIFO_STATUS) & RX_EMPTY) {
        return 0;
    }
    uint8_t len = 0;
    command(R_RX_PL_WID, nullptr, &len, 1);
    if (len == 0 || len > MAX_PAYLOAD) { // a corrupt length: drop the FIFO
        command(FLUSH_RX, nullptr, nullptr, 0);
        write(STATUS, RX_DR);
        return 0;
    }
    command(R_RX_PAYLOAD, nullptr, buf, len);
    write(STATUS, RX_DR);
    return len;
}
