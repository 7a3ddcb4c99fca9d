// kafkajs against sluiced: admin (create with configs, list, metadata, describe/alter configs,
// offsets, delete) and produce (acks=all, keys, headers, gzip). Prints one JSON line of what
// it saw; test_kafkajs.py checks it and reads the records back with kcat. Then a kafkajs
// consumer group (JoinGroup/SyncGroup/Heartbeat/OffsetCommit) reads everything back and commits.
'use strict'
const { Kafka, logLevel, ConfigResourceTypes, CompressionTypes } = require('kafkajs')

const port = process.argv[2]
const topic = 'kafkajs-topic'
const kafka = new Kafka({
  clientId: 'sluice-kafkajs-test',
  brokers: [`127.0.0.1:${port}`],
  logLevel: logLevel.WARN,
  retry: { retries: 3 }
})

async function main () {
  const out = {}
  const admin = kafka.admin()
  await admin.connect()
  out.created = await admin.createTopics({
    waitForLeaders: true,
    topics: [{
      topic,
      numPartitions: 3,
      replicationFactor: 1,
      configEntries: [{ name: 'retention.ms', value: '3600000' }]
    }]
  })
  out.createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  out.listed = (await admin.listTopics()).includes(topic)
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  out.partitions = md.topics[0].partitions
    .map(p => ({ id: p.partitionId, leader: p.leader, isr: p.isr }))
    .sort((a, b) => a.id - b.id)
  const describe = async () => {
    const c = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }]
    })
    return Object.fromEntries(c.resources[0].configEntries.map(e => [e.configName, e.configValue]))
  }
  out.configs = await describe()
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }]
  })
  out.altered = await describe()

  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let i = 0; i < 30; i++) {
    messages.push({ partition: i % 3, key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` } })
  }
  const acks = []
  for (let i = 0; i < messages.length; i += 10) {
    const r = await producer.send({
      topic, acks: -1, compression: i === 0 ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: messages.slice(i, i + 10)
    })
    acks.push(...r.map(x => ({ partition: x.partition, errorCode: x.errorCode, baseOffset: x.baseOffset })))
  }
  out.acks = acks
  await producer.disconnect()
  out.consumed = await consumeAll(30)
  out.committed = (await admin.fetchOffsets({ groupId: 'kafkajs-group', topics: [topic] }))[0]
    .partitions.map(p => ({ partition: p.partition, offset: p.offset }))
    .sort((a, b) => a.partition - b.partition)
  out.offsets = (await admin.fetchTopicOffsets(topic))
    .map(o => ({ partition: o.partition, high: o.high, low: o.low }))
    .sort((a, b) => a.partition - b.partition)
  await admin.disconnect()
  process.stdout.write(JSON.stringify(out) + '\n')
}

// A one-member group from the beginning; returns what it read ("partition:key=value h").
async function consumeAll (count) {
  const consumer = kafka.consumer({ groupId: 'kafkajs-group', sessionTimeout: 10000 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const got = []
  let resolveDone
  const done = new Promise(resolve => { resolveDone = resolve })
  await consumer.run({
    autoCommit: true,
    eachMessage: async ({ partition, message }) => {
      got.push(`${partition}:${message.key}=${message.value} ${message.headers.h}`)
      if (got.length === count) resolveDone()
    }
  })
  const timer = setTimeout(() => { console.error(`consumed only ${got.length}`); process.exit(1) }, 60000)
  await done
  clearTimeout(timer)
  await consumer.disconnect() // commits what was consumed
  return got.sort()
}

async function cleanup () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.deleteTopics({ topics: [topic] })
  const listed = (await admin.listTopics()).includes(topic)
  await admin.disconnect()
  process.stdout.write(JSON.stringify({ deletedListed: listed }) + '\n')
}

const step = process.argv[3] === 'delete' ? cleanup : main
step().catch(e => {
  console.error(e)
  process.exit(1)
})
