// wren ESP node: an ESP8266 or ESP32 with an SHT31 temperature/humidity
// sensor, over Wi-Fi UDP to the gateway's MQTT-SN port. Each wake: join
// Wi-Fi, run one sensor cycle (CONNECT resuming the sleeping session, the
// readings at QoS 1 to predefined topic ids, commands buffered while asleep
// handed over, DISCONNECT with the sleep duration), then deep sleep.
// Deep sleep resets the chip, so the cycle number lives in RTC memory.
//
// Not built in CI (no ESP toolchain in Debian): the cycle itself is
// sensor_cycle.c, which tests/40_firmware.rs builds and runs on the host
// against wren. See README.md.
#include <Wire.h>
#if defined(ESP8266)
#include <ESP8266WiFi.h>
#else
#include <WiFi.h>
#include <esp_sleep.h>
#endif
#include <WiFiUdp.h>

#include "mqttsn.h"
#include "sensor_cycle.h"
#include "wren_topics.h"

#ifndef WIFI_SSID
#define WIFI_SSID "your-ssid"
#define WIFI_PASSWORD "your-password"
#endif
#ifndef GATEWAY_HOST
#define GATEWAY_HOST "192.168.1.2" // the Pi running wren
#endif
#define GATEWAY_PORT 1884
#define PERIOD_S 300
const uint8_t SHT31_ADDRESS = 0x44;
const uint8_t LED = LED_BUILTIN;

static WiFiUDP udp;
static IPAddress gateway;
static msn_client client;
static char client_id[20];

#if defined(ESP8266)
// Survives deep sleep: user RTC memory, checked with a magic number.
static bool first_boot()
{
    uint32_t magic = 0;
    ESP.rtcUserMemoryRead(0, &magic, sizeof magic);
    return magic != 0x7772656eUL;
}
static void remember(bool ok)
{
    uint32_t magic = ok ? 0x7772656eUL : 0;
    ESP.rtcUserMemoryWrite(0, &magic, sizeof magic);
}
static void deep_sleep(uint32_t s) { ESP.deepSleep(s * 1000000ULL); }
static uint32_t chip_id() { return ESP.getChipId(); }
#else
RTC_DATA_ATTR static bool session_ok = false;
static bool first_boot() { return !session_ok; }
static void remember(bool ok) { session_ok = ok; }
static void deep_sleep(uint32_t s)
{
    esp_sleep_enable_timer_wakeup(s * 1000000ULL);
    esp_deep_sleep_start();
}
static uint32_t chip_id() { return (uint32_t)ESP.getEfuseMac(); }
#endif

static int udp_send(void *, const uint8_t *buf, uint8_t len, uint8_t broadcast)
{
    udp.beginPacket(broadcast ? IPAddress(255, 255, 255, 255) : gateway,
                    GATEWAY_PORT);
    udp.write(buf, len);
    return udp.endPacket() ? 0 : -1;
}

static uint8_t udp_recv(void *, uint8_t *buf, uint8_t cap)
{
    int n = udp.parsePacket();
    if (n <= 0) {
        delay(1); // let the Wi-Fi stack run while the client polls
        return 0;
    }
    return (uint8_t)udp.read(buf, cap);
}

static uint32_t clock_ms(void *) { return millis(); }
static const msn_transport wifi = {nullptr, udp_send, udp_recv, clock_ms};

// A command: "on" or "off" for the LED (active low on most boards).
static void on_command(void *, uint16_t, uint8_t, const uint8_t *p, uint8_t n)
{
    bool on = n == 2 && p[0] == 'o' && p[1] == 'n';
    digitalWrite(LED, on ? LOW : HIGH);
}

// SHT31 single shot, high repeatability, no clock stretching (datasheet
// table 9): 6 octets back, temperature and humidity each with a CRC.
static bool read_sht31(int16_t *temp_tenths, int16_t *rh_tenths)
{
    Wire.beginTransmission(SHT31_ADDRESS);
    Wire.write(0x24);
    Wire.write(0x00);
    if (Wire.endTransmission() != 0) {
        return false;
    }
    delay(16);
    if (Wire.requestFrom(SHT31_ADDRESS, (uint8_t)6) != 6) {
        return false;
    }
    uint8_t d[6];
    for (uint8_t i = 0; i < 6; i++) {
        d[i] = Wire.read();
    }
    uint32_t t = (uint32_t)d[0] << 8 | d[1];
    uint32_t h = (uint32_t)d[3] << 8 | d[4];
    *temp_tenths = (int16_t)((int32_t)(1750 * t / 65535) - 450);
    *rh_tenths = (int16_t)(1000 * h / 65535);
    return true;
}

void setup()
{
    pinMode(LED, OUTPUT);
    digitalWrite(LED, HIGH);
    Wire.begin();
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
    for (uint16_t waited = 0; WiFi.status() != WL_CONNECTED; waited += 100) {
        if (waited > 15000) {
            deep_sleep(PERIOD_S); // no Wi-Fi: try again next period
        }
        delay(100);
    }
    gateway.fromString(GATEWAY_HOST);
    udp.begin(GATEWAY_PORT);
    snprintf(client_id, sizeof client_id, "esp-%08lx",
             (unsigned long)chip_id());
    msn_init(&client, &wifi, client_id, 60);
    client.t_retry_ms = 2000;
    msn_set_callbacks(&client, on_command, nullptr, nullptr);

    int16_t temp = 0, rh = 0;
    if (read_sht31(&temp, &rh)) {
        const sensor_reading readings[] = {
            {WREN_TOPIC_ESP_TEMPERATURE, temp},
            {WREN_TOPIC_ESP_HUMIDITY, rh},
        };
        int rc = sensor_cycle(&client, first_boot(), WREN_TOPIC_ESP_COMMAND,
                              MSN_FLAG_QOS1, readings, 2, PERIOD_S);
        remember(rc == MSN_OK);
    }
    deep_sleep(PERIOD_S);
}

void loop() {}
