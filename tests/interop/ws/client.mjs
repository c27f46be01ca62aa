// MQTT.js from Node over ws:// against the broker under test.
//
//   node client.mjs ws://127.0.0.1:PORT/mqtt TOPIC_PREFIX
//
// For MQTT 3.1 (subprotocol mqttv3.1), 3.1.1 and 5.0 (subprotocol mqtt):
// QoS 0/1/2 between two clients, a 100 KiB message (several frames each way),
// a retained message for a later subscriber, and the will of a client whose
// socket is destroyed without DISCONNECT. Prints "ok vN" per version and exits
// 0; on the first failure prints it and exits 1. Every wait is bounded.

import mqtt from "mqtt";

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) {
  console.error("usage: node client.mjs WS_URL TOPIC_PREFIX");
  process.exit(2);
}

const WAIT_MS = 10_000;
setTimeout(() => {
  console.error("FAIL: the whole run took longer than 60 s");
  process.exit(1);
}, 60_000).unref();

const VERSIONS = [
  { name: "v31", options: { protocolId: "MQIsdp", protocolVersion: 3 } },
  { name: "v311", options: { protocolVersion: 4 } },
  { name: "v5", options: { protocolVersion: 5 } },
];

let clientCount = 0;

async function connect(version, extra = {}) {
  const clientId = `js${version.options.protocolVersion}-${process.pid}-${clientCount++}`;
  const client = await mqtt.connectAsync(url, {
    ...version.options,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    ...extra,
  });
  const inbox = [];
  client.on("message", (topic, payload, packet) => {
    inbox.push({ topic, payload, qos: packet.qos, retain: packet.retain });
  });
  return { client, inbox };
}

async function waitFor(what, predicate) {
  const deadline = Date.now() + WAIT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function run(version) {
  const t = `${prefix}/${version.name}`;
  const sub = await connect(version);
  await sub.client.subscribeAsync(`${t}/#`, { qos: 2 });
  const pub = await connect(version);

  for (const qos of [0, 1, 2]) {
    await pub.client.publishAsync(`${t}/q`, `qos${qos}`, { qos });
  }
  await waitFor("3 messages", () => sub.inbox.length >= 3);
  const got = sub.inbox.splice(0).map((m) => `${m.payload}@${m.qos}`).sort();
  check(got.join() === "qos0@0,qos1@1,qos2@2", `QoS 0/1/2: got ${got}`);

  const big = Buffer.alloc(100 * 1024, 7);
  await pub.client.publishAsync(`${t}/big`, big, { qos: 1 });
  await waitFor("the 100 KiB message", () => sub.inbox.length >= 1);
  const [bigIn] = sub.inbox.splice(0);
  check(bigIn.topic === `${t}/big` && big.equals(bigIn.payload), "100 KiB message corrupted");

  await pub.client.publishAsync(`${t}/retained`, "kept", { qos: 1, retain: true });
  await waitFor("the live copy of the retained message", () => sub.inbox.length >= 1);
  sub.inbox.splice(0);
  const late = await connect(version);
  await late.client.subscribeAsync(`${t}/retained`, { qos: 1 });
  await waitFor("the retained message", () => late.inbox.length >= 1);
  const [kept] = late.inbox;
  check(kept.retain && kept.payload.toString() === "kept", `retained: got ${JSON.stringify(kept)}`);

  const doomed = await connect(version, {
    will: { topic: `${t}/will`, payload: Buffer.from("lost"), qos: 1, retain: false },
  });
  doomed.client.stream.destroy(); // no DISCONNECT, no close frame
  await waitFor("the will", () => sub.inbox.some((m) => m.topic === `${t}/will`));
  const will = sub.inbox.find((m) => m.topic === `${t}/will`);
  check(will.payload.toString() === "lost", `will: got ${will.payload}`);

  await Promise.all([pub, sub, late].map(({ client }) => client.endAsync()));
  doomed.client.end(true);
  console.log(`ok ${version.name}`);
}

try {
  for (const version of VERSIONS) {
    await run(version);
  }
  process.exit(0);
} catch (error) {
  console.error(`FAIL: ${error.stack || error}`);
  process.exit(1);
}
