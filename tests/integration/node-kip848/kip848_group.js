// KIP-848 consumer group (group.protocol=consumer) against sluiced with the librdkafka bundled in
// @confluentinc/kafka-javascript. Driven by test_kip848.py:
//
//   node kip848_group.js <bootstrap> <topic> <partitions> <regex-prefix> [<admin-http-url>]
//
// 1. three members join; each gets a share of the partitions, no partition twice;
// 2. every message is consumed exactly once; members commit; (with an admin URL) what
//    GET /v1/groups/<group> and `sluice group describe` say then, next to what each member owns;
// 3. one member leaves: the others take its partitions and resume from its commits;
// 4. all leave; a new member resumes from the committed offsets (nothing re-read);
// 5. a member subscribed by regex gets exactly the matching topics and consumes them.
// Prints one JSON line (what the client sent on the wire: request name -> versions) and exits 0,
// or prints FAIL: ... and exits 1.
'use strict';

const Kafka = require('@confluentinc/kafka-javascript');

const [bootstrap, topic, partitionsArg, regexPrefix, adminUrl] = process.argv.slice(2);
const PARTITIONS = Number(partitionsArg);
const GROUP = 'kip848-group';
const sent = {};  // request name -> set of versions, from librdkafka's protocol debug log
const seen = new Map();  // message value -> consumer name (a value twice is a failure)
const errors = [];

function fail(msg) {
  console.log('FAIL: ' + msg);
  console.log('versions: ' + JSON.stringify(versionsSeen()));
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, pred, ms = 90000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(100);
  }
  fail('timed out waiting for ' + what + (errors.length ? ' (errors: ' + errors.join('; ') + ')' : ''));
}
function versionsSeen() {
  const out = {};
  for (const [k, v] of Object.entries(sent)) out[k] = [...v].sort((a, b) => a - b);
  return out;
}
function onLog(log) {
  const m = /Sent (\w+)Request \(v(\d+)/.exec(log.message);
  if (m) (sent[m[1]] = sent[m[1]] || new Set()).add(Number(m[2]));
}

function consumer(name, group = GROUP) {
  const c = new Kafka.KafkaConsumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'group.protocol': 'consumer',
    'client.id': name,
    'enable.auto.commit': false,
    'rebalance_cb': true,
    'event_cb': true,
    'debug': 'protocol',
  }, {'auto.offset.reset': 'earliest'});
  c.tag = name;
  c.consumedValues = [];
  c.on('event.log', onLog);
  c.on('event.error', (e) => errors.push(name + ': ' + e.message));
  c.on('data', (m) => {
    const v = m.value.toString();
    if (seen.has(v)) fail(`value ${v} consumed by ${name} after ${seen.get(v)}`);
    seen.set(v, name);
    c.consumedValues.push(v);
  });
  return c;
}

function connect(c, topics) {
  step('connect ' + c.tag);
  return new Promise((resolve, reject) => {
    c.connect({}, (err) => {
      if (err) return reject(new Error(c.tag + ': ' + err.message));
      c.subscribe(topics);
      c.consume();
      resolve(c);
    });
  });
}

// Bounded, so a leave the broker never completes is a failure, not a hang. Unsubscribe first:
// the binding's disconnect destroys the handle, and a destroy racing a fetch whose messages the
// consume loop still holds never completes (the client's own mitigation, confluent-kafka-javascript
// PR #98; it hangs the same way with group.protocol=classic, against any broker).
function disconnect(c) {
  step('disconnect ' + c.tag);
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail(c.tag + ': disconnect did not complete in 60 s'), 60000);
    c.unsubscribe();
    c.disconnect(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
// Progress on stderr, so a failure says which step it reached.
function step(what) {
  console.error(new Date().toISOString() + ' step: ' + what);
}

function owned(c) {
  try {
    return c.assignments().map((tp) => `${tp.topic}:${tp.partition}`);
  } catch (e) {
    return [];
  }
}

// The members' assignments cover every partition of `topic` exactly once.
function covers(members) {
  const all = members.flatMap(owned).filter((s) => s.startsWith(topic + ':'));
  return all.length === PARTITIONS && new Set(all).size === PARTITIONS &&
      members.every((c) => owned(c).length > 0);
}

async function produce(from, count, toTopic = topic, partitions = PARTITIONS) {
  step(`produce ${count} from ${from} to ${toTopic}`);
  const p = new Kafka.Producer({'bootstrap.servers': bootstrap, 'dr_cb': true, 'event_cb': true});
  p.on('event.log', onLog);
  await new Promise((res, rej) => p.connect({}, (e) => (e ? rej(e) : res())));
  let delivered = 0;
  p.on('delivery-report', (err) => {
    if (err) fail('delivery failed: ' + err.message);
    ++delivered;
  });
  p.setPollInterval(50);
  for (let i = from; i < from + count; ++i) {
    p.produce(toTopic, i % partitions, Buffer.from(String(i)));
  }
  await waitFor('delivery of ' + count + ' messages', () => delivered === count);
  await new Promise((res) => p.disconnect(() => res()));
}

function commit(c) {
  c.commitSync();
}

async function main() {
  // 1. Three members; wait until the group is stable (each member has a share).
  const c1 = await connect(consumer('c1'), [topic]);
  const c2 = await connect(consumer('c2'), [topic]);
  const c3 = await connect(consumer('c3'), [topic]);
  await waitFor('three members sharing all partitions', () => covers([c1, c2, c3]));
  const shares = [c1, c2, c3].map((c) => owned(c).length);

  // 2. Every message exactly once, then commit.
  await produce(0, 60);
  await waitFor('60 messages consumed', () => seen.size === 60);
  for (const c of [c1, c2, c3]) commit(c);
  let adminView = null;
  if (adminUrl) {
    step('GET /v1/groups/' + GROUP);
    const res = await fetch(adminUrl + '/v1/groups/' + GROUP);
    adminView = {status: res.status, body: await res.json(),
                 owned: Object.fromEntries([c1, c2, c3].map((c) => [c.tag, owned(c)]))};
    if (process.env.SLUICE_BIN_DIR) {  // and the CLI's (ConsumerGroupDescribe)
      step('sluice group describe ' + GROUP);
      const out = require('child_process').execFileSync(
          require('path').join(process.env.SLUICE_BIN_DIR, 'sluice'),
          ['--brokers', bootstrap, 'group', 'describe', GROUP, '--format', 'json']);
      adminView.cli = JSON.parse(out.toString());
    }
  }

  // 3. c3 leaves: c1 and c2 take its partitions and continue from its committed offsets.
  await disconnect(c3);
  await waitFor('two members sharing all partitions after c3 left', () => covers([c1, c2]));
  await produce(60, 30);
  await waitFor('90 messages consumed', () => seen.size === 90);
  for (const c of [c1, c2]) commit(c);

  // 4. Everyone leaves; a new member resumes from the committed offsets.
  await disconnect(c1);
  await disconnect(c2);
  await produce(90, 30);
  const c4 = await connect(consumer('c4'), [topic]);
  await waitFor('c4 owning all partitions', () => covers([c4]));
  await waitFor('120 messages consumed', () => seen.size === 120);
  const resumed = c4.consumedValues.map(Number);
  if (Math.min(...resumed) !== 90) fail('c4 re-read committed messages: ' + resumed.join(','));
  await sleep(500);  // anything re-delivered now would fail in the data handler
  await disconnect(c4);

  // 5. Regex subscription (subscribed_topic_regex, ConsumerGroupHeartbeat v1): exactly the
  // matching topics, every message once. Values 1000+ so they differ from `topic`'s.
  await produce(1000, 2, regexPrefix + 'a', 2);
  await produce(1002, 1, regexPrefix + 'b', 1);
  const rx = await connect(consumer('rx', GROUP + '-regex'), ['^' + regexPrefix + '.*']);
  const want = [`${regexPrefix}a:0`, `${regexPrefix}a:1`, `${regexPrefix}b:0`].join(',');
  await waitFor('regex member owning the matching topics', () => owned(rx).sort().join(',') === want);
  await waitFor('regex member consumed its 3 messages', () => rx.consumedValues.length === 3);
  const regexOwned = owned(rx).sort();
  await disconnect(rx);

  console.log(JSON.stringify({
    admin_view: adminView,
    ok: true,
    shares,
    resumed_from: Math.min(...resumed),
    regex_owned: regexOwned,
    regex_consumed: rx.consumedValues.map(Number).sort((a, b) => a - b),
    versions: versionsSeen(),
  }));
  process.exit(0);
}

main().catch((e) => fail(e.stack || String(e)));
