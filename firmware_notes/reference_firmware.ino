// imutrack DIY chest sensor: reference firmware (Seeed XIAO nRF52840 Sense, Adafruit Bluefruit nRF52 core).
// Follows firmware_notes/README.md. Not built in CI; a starting point for your own board.
#include <bluefruit.h>
#include <LSM6DS3.h>
#include <Wire.h>

LSM6DS3 imu(I2C_MODE, 0x6A);

// 19599a50-3ced-4d16-bab3-8aca30e9d53c and its siblings, little-endian byte order for Bluefruit.
const uint8_t UUID_SERVICE[] = {0x3c,0x5d,0xe9,0x30,0xca,0x8a,0xb3,0xba,0x16,0x4d,0xed,0x3c,0x50,0x9a,0x59,0x19};
const uint8_t UUID_DATA[]    = {0x3c,0x5d,0xe9,0x30,0xca,0x8a,0xb3,0xba,0x16,0x4d,0xed,0x3c,0x51,0x9a,0x59,0x19};
const uint8_t UUID_CONTROL[] = {0x3c,0x5d,0xe9,0x30,0xca,0x8a,0xb3,0xba,0x16,0x4d,0xed,0x3c,0x52,0x9a,0x59,0x19};

BLEService imuService(UUID_SERVICE);
BLECharacteristic dataChar(UUID_DATA);
BLECharacteristic controlChar(UUID_CONTROL);
BLEBas battery;

const uint8_t GYRO_CODE = 2;  // ±500 dps
const uint8_t ACC_CODE = 1;   // ±4 g
volatile bool streaming = false;
volatile uint16_t rateHz = 100;
uint16_t sampleCounter = 0;    // runs on while not sending: the app sees gaps
uint8_t packet[10 + 20 * 12];
uint8_t inPacket = 0;

uint8_t rateCode(uint16_t hz) { return hz == 50 ? 0 : hz == 200 ? 2 : hz == 400 ? 3 : hz == 800 ? 4 : hz == 1000 ? 5 : 1; }

void onControl(uint16_t conn, BLECharacteristic* chr, uint8_t* data, uint16_t len) {
  if (len >= 3 && data[0] == 0x01) {
    uint16_t hz = data[1] | (data[2] << 8);
    if (hz == 50 || hz == 100 || hz == 200 || hz == 400 || hz == 800 || hz == 1000) rateHz = hz;
    streaming = true;
  } else if (len >= 1 && data[0] == 0x02) {
    streaming = false;
  }
}

void onDisconnect(uint16_t conn, uint8_t reason) { streaming = false; inPacket = 0; }

void setup() {
  imu.settings.gyroRange = 500;
  imu.settings.accelRange = 4;
  imu.begin();
  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);  // allows MTU 247
  Bluefruit.begin();
  Bluefruit.setName("imutrack");
  Bluefruit.Periph.setDisconnectCallback(onDisconnect);
  battery.begin();
  imuService.begin();
  dataChar.setProperties(CHR_PROPS_NOTIFY);
  dataChar.setMaxLen(sizeof(packet));
  dataChar.begin();
  controlChar.setProperties(CHR_PROPS_WRITE | CHR_PROPS_WRITE_WO_RESP);
  controlChar.setWriteCallback(onControl);
  controlChar.begin();
  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addService(imuService);
  Bluefruit.ScanResponse.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.start(0);
}

static void put16(uint8_t* p, int16_t v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }

void loop() {
  static uint32_t next = micros();
  uint32_t period = 1000000UL / rateHz;
  if ((int32_t)(micros() - next) < 0) return;
  uint32_t t = next;
  next += period;
  int16_t raw[6] = {imu.readRawGyroX(), imu.readRawGyroY(), imu.readRawGyroZ(),
                    imu.readRawAccelX(), imu.readRawAccelY(), imu.readRawAccelZ()};
  uint16_t counter = sampleCounter++;
  if (!streaming || !Bluefruit.connected()) { inPacket = 0; return; }
  uint16_t mtu = Bluefruit.Connection(0)->getMtu();
  uint8_t perPacket = min(20, (mtu - 3 - 10) / 12);
  if (inPacket == 0) {
    packet[0] = 1;
    packet[1] = rateCode(rateHz) << 4;
    packet[3] = (GYRO_CODE << 4) | ACC_CODE;
    packet[4] = counter & 0xff; packet[5] = counter >> 8;
    packet[6] = t & 0xff; packet[7] = (t >> 8) & 0xff; packet[8] = (t >> 16) & 0xff; packet[9] = t >> 24;
  }
  for (int k = 0; k < 6; k++) put16(&packet[10 + inPacket * 12 + 2 * k], raw[k]);
  inPacket++;
  packet[2] = inPacket;
  if (inPacket >= perPacket) {
    dataChar.notify(packet, 10 + inPacket * 12);
    inPacket = 0;
    battery.write(constrain(map(analogRead(PIN_VBAT), 3300, 4200, 0, 100), 0, 100));
  }
}
