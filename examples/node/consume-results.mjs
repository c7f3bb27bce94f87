// Consumes talkrelay result events with nats.js through a durable consumer on
// the TALKRELAY_RESULTS stream, checks each against result.v1.schema.json and
// prints one JSON line per result.
//
//   npm ci
//   NATS_URL=nats://127.0.0.1:4222 node consume-results.mjs 'talkrelay.results.sandbox.>'
//
// Environment: NATS_URL (default nats://127.0.0.1:4222), DURABLE (consumer
// name, default results-example: a restarted consumer goes on where it
// stopped), RESULTS_COUNT (stop after that many results; default: never).
import fs from "node:fs";
import { connect, AckPolicy, DeliverPolicy } from "nats";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const filter = process.argv[2] ?? "talkrelay.results.>";
const durable = process.env.DURABLE ?? "results-example";
const stopAfter = Number(process.env.RESULTS_COUNT ?? 0);

const ajv = new Ajv2020({ strict: true });
addFormats(ajv);
const schema = new URL("../../schemas/result.v1.schema.json", import.meta.url);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schema, "utf8")));

const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
const jsm = await nc.jetstreamManager();
await jsm.consumers.add("TALKRELAY_RESULTS", {
  durable_name: durable,
  filter_subject: filter,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
});
const consumer = await nc.jetstream().consumers.get("TALKRELAY_RESULTS", durable);
const messages = await consumer.consume();

// A result may come twice (a redelivery after a lost ack): key what you
// store by the result's Nats-Msg-Id, <job_id>/<recipient_index>.
const seen = new Set();
for await (const m of messages) {
  const ev = m.json();
  if (!validate(ev)) {
    console.error(`${m.subject}: breaks the result schema: ${ajv.errorsText(validate.errors)}`);
  }
  const id = m.headers?.get("Nats-Msg-Id") ?? "";
  if (!seen.has(id)) {
    seen.add(id);
    console.log(JSON.stringify({
      subject: m.subject, msg_id: id, traceparent: m.headers?.get("traceparent") ?? "",
      job_id: ev.job_id, recipient_index: ev.recipient_index, ref: ev.ref, phone: ev.phone,
      status: ev.status, reason: ev.reason, code: ev.code, detail: ev.detail,
    }));
  }
  m.ack();
  if (stopAfter > 0 && seen.size >= stopAfter) break;
}
await nc.drain();
