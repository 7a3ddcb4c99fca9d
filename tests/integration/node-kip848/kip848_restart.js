// A KIP-848 member (group.protocol=consumer) across a sluiced restart, driven by
// test_kip848.py. The broker persists the consumer group, so the member keeps its epoch and its
// partitions: no rebalance, every message exactly once, committed offsets exact.
//
//   node kip848_restart.js <bootstrap> <topic> <partitions>
//
// 1. two members join and share the partitions; 60 messages consumed, committed;
// 2. prints "READY" and waits for "GO" on stdin (the test restarts sluiced on the same port);
// 3. 30 more messages: consumed once each by the same members, with no rebalance callback;
//    committed again;
// Prints one JSON line and exits 0, or prints FAIL: ... and exits 1.
'use strict';

const Kafka = require('@confluentinc/kafka-javascript');
const readline = require('readline');

const [bootstrap, topic, partitionsArg] = process.argv.slice(2);
const PARTITIONS = Number(partitionsArg);
const GROUP = 'kip848-restart';
const seen = new Map();
const errors = [];
const rebalances = [];  // [consumer, event] of every rebalance callback

function fail(msg) {
  console.log('FAIL: ' + msg);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, pred, ms = 90000) {
  const end = Date.now() + ms;
  let next = Date.now() + 5000;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(100);
    if (Date.now() > next) {  // progress on stderr, for a failure's report
      next += 5000;
      step(`still waiting for ${what}: ${seen.size} consumed, errors: ${errors.join('; ')}`);
    }
  }
  fail('timed out waiting for ' + what + (errors.length ? ' (errors: ' + errors.join('; ') + ')' : ''));
}
function step(what) {
  console.error(new Date().toISOString() + ' step: ' + what);
}

function consumer(name) {
  const c = new Kafka.KafkaConsumer({
    'bootstrap.servers': bootstrap,
    'group.id': GROUP,
    'group.protocol': 'consumer',
    'client.id': name,
    'enable.auto.commit': false,
    'event_cb': true,
    'rebalance_cb': true,  // the binding's default (incremental) assign/unassign
  }, {'auto.offset.reset': 'earliest'});
  c.tag = name;
  c.on('rebalance', (err, assignment) => rebalances.push(
      `${name}:${err.code}:${assignment.map((tp) => tp.topic + ':' + tp.partition).join(',')}`));
  c.on('event.error', (e) => errors.push(name + ': ' + e.message));
  c.on('data', (m) => {
    const v = m.value.toString();
    if (seen.has(v)) fail(`value ${v} consumed by ${name} after ${seen.get(v)}`);
    seen.set(v, name);
  });
  return c;
}

function connect(c) {
  step('connect ' + c.tag);
  return new Promise((resolve, reject) => {
    c.connect({}, (err) => {
      if (err) return reject(new Error(c.tag + ': ' + err.message));
      c.subscribe([topic]);
      c.consume();
      resolve(c);
    });
  });
}
function disconnect(c) {
  step('disconnect ' + c.tag);
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail(c.tag + ': disconnect did not complete in 60 s'), 60000);
    c.unsubscribe();  // see kip848_group.js
    c.disconnect(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
function owned(c) {
  try {
    return c.assignments().map((tp) => `${tp.topic}:${tp.partition}`).sort();
  } catch (e) {
    return [];
  }
}
function covers(members) {
  const all = members.flatMap(owned);
  return all.length === PARTITIONS && new Set(all).size === PARTITIONS &&
      members.every((c) => owned(c).length > 0);
}

async function produce(from, count) {
  step(`produce ${count} from ${from}`);
  const p = new Kafka.Producer({'bootstrap.servers': bootstrap, 'dr_cb': true});
  await new Promise((res, rej) => p.connect({}, (e) => (e ? rej(e) : res())));
  let delivered = 0;
  p.on('delivery-report', (err) => {
    if (err) fail('delivery failed: ' + err.message);
    ++delivered;
  });
  p.setPollInterval(50);
  for (let i = from; i < from + count; ++i) p.produce(topic, i % PARTITIONS, Buffer.from(String(i)));
  await waitFor('delivery of ' + count + ' messages', () => delivered === count);
  await new Promise((res) => p.disconnect(() => res()));
}

// commitSync retried while the broker is away (the commit after the restart must land).
async function commit(c) {
  for (let i = 0; i < 100; ++i) {
    try {
      c.commitSync();
      return;
    } catch (e) {
      await sleep(200);
    }
  }
  fail(c.tag + ': commit never succeeded');
}

function waitLine(want) {
  const rl = readline.createInterface({input: process.stdin});
  return new Promise((resolve) => rl.on('line', (l) => {
    if (l.trim() === want) {
      rl.close();
      resolve();
    }
  }));
}

async function main() {
  const c1 = await connect(consumer('c1'));
  const c2 = await connect(consumer('c2'));
  await waitFor('two members sharing all partitions', () => covers([c1, c2]));
  await produce(0, 60);
  await waitFor('60 messages consumed', () => seen.size === 60);
  for (const c of [c1, c2]) await commit(c);
  const before = {c1: owned(c1), c2: owned(c2)};
  const rebalancesBefore = rebalances.length;

  const go = waitLine('GO');
  console.log('READY');
  await go;
  step('broker restarted');

  await produce(60, 30);
  await waitFor('90 messages consumed', () => seen.size === 90);
  for (const c of [c1, c2]) await commit(c);
  const after = {c1: owned(c1), c2: owned(c2)};
  const rebalancesAfter = rebalances.slice(rebalancesBefore);
  await disconnect(c1);
  await disconnect(c2);
  console.log(JSON.stringify({
    ok: true,
    same_assignment: JSON.stringify(before) === JSON.stringify(after),
    before,
    after,
    rebalances_after_restart: rebalancesAfter,
    consumed: seen.size,
  }));
  process.exit(0);
}

main().catch((e) => fail(e.stack || String(e)));
