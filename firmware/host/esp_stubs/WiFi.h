/* Declarations only: the station-mode calls the ESP sketch makes. */
#ifndef WIFI_STUB_H
#define WIFI_STUB_H
#include "Arduino.h"
typedef enum { WIFI_OFF = 0, WIFI_STA = 1 } WiFiMode_t;
typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3 } wl_status_t;
class WiFiClass {
  public:
    bool mode(WiFiMode_t mode);
    wl_status_t begin(const char *ssid, const char *passphrase);
    wl_status_t status();
};
extern WiFiClass WiFi;
#endif
