/* Declarations only: the subset of the Arduino API the ESP sketch uses. */
#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HIGH 0x1
#define LOW 0x0
#define OUTPUT 0x01
#define LED_BUILTIN 2

void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
void delay(unsigned long ms);
unsigned long millis(void);

class IPAddress {
  public:
    IPAddress();
    IPAddress(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
    bool fromString(const char *address);
};

#if defined(ESP8266)
class EspClass {
  public:
    bool rtcUserMemoryRead(uint32_t offset, uint32_t *data, size_t size);
    bool rtcUserMemoryWrite(uint32_t offset, uint32_t *data, size_t size);
    static void deepSleep(uint64_t time_us);
    uint32_t getChipId();
};
#else
#define RTC_DATA_ATTR __attribute__((section(".rtc.data")))
class EspClass {
  public:
    uint64_t getEfuseMac();
};
#endif
extern EspClass ESP;

void setup(void);
void loop(void);
#endif
