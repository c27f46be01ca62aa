/* Declarations only: TwoWire as the ESP cores declare the calls used. */
#ifndef WIRE_STUB_H
#define WIRE_STUB_H
#include "Arduino.h"
class TwoWire {
  public:
    void begin();
    void beginTransmission(uint8_t address);
    uint8_t endTransmission(void);
    uint8_t requestFrom(uint8_t address, uint8_t quantity);
    size_t write(uint8_t data);
    int read(void);
};
extern TwoWire Wire;
#endif
