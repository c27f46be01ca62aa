/* Declarations only: WiFiUDP as the ESP cores declare the calls used. */
#ifndef WIFIUDP_STUB_H
#define WIFIUDP_STUB_H
#include "Arduino.h"
class WiFiUDP {
  public:
    uint8_t begin(uint16_t port);
    int beginPacket(IPAddress ip, uint16_t port);
    size_t write(const uint8_t *buffer, size_t size);
    int endPacket();
    int parsePacket();
    int read(unsigned char *buffer, size_t len);
};
#endif
